"""A webpack loader that knows no bundles: the tier serves APIs, never built pages."""
from webpack_loader.loader import WebpackLoader


class EmptyBundles(WebpackLoader):
    def get_bundle(self, bundle_name):
        return []
