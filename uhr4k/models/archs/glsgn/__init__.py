"""GLSGN as a package: the network and its entry points (``model``), its encoder-decoder blocks (``blocks``),
the Laplacian-pyramid synthesis (``laplacian``), the equations' memory mechanics: patch cutting, memory order
and the chunk plan of low-memory inference (``memory``), and the attention maps of Figure 8 (``attention``).
Importing it registers ``glsgn*``."""
from uhr4k.models.archs.glsgn.model import GLSGN

__all__ = ["GLSGN"]
