"""fangpin: the rules engine behind precise poverty-prevention insurance (精准防贫保险)."""

__version__ = "0.1.0"
