from runtime.component import Component


class HttpRequest(Component):
    pass
