"""An href hook for the tests (SYNTHEO_STAC_HREF_HOOK=stac_hook:sign): ``unsigned/NAME`` hrefs lead nowhere until
the hook rewrites them to the folder named by STAC_HOOK_FOLDER, as a signing function turns a bare URL into one that
opens."""

import os


def sign(href: str) -> str:
    if href.startswith("unsigned/"):
        return os.path.join(os.environ["STAC_HOOK_FOLDER"], href[len("unsigned/"):])
    return href
