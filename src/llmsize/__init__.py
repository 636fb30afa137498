"""llmsize: what a transformer language model costs before you touch a GPU."""
__version__ = "0.1.0"
