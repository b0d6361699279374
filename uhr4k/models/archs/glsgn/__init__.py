"""GLSGN as a package: the network and its entry points (``model``), its encoder-decoder blocks and patch
mechanics (``blocks``), the chunked low-memory pathway (``chunked``), the Laplacian-pyramid synthesis
(``laplacian``) and the attention maps of Figure 8 (``attention``). Importing it registers ``glsgn*``."""
from uhr4k.models.archs.glsgn.model import GLSGN

__all__ = ["GLSGN"]
