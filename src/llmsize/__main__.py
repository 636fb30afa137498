"""`python -m llmsize` runs the CLI."""
from llmsize.cli import main

main()
