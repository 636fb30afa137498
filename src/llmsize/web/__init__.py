"""The web calculator: a FastAPI app (JSON API under /api/v1) and one static page that shows it.

Needs the `web` extra (fastapi, uvicorn). Nothing here computes a number: every endpoint calls
the library's report function, so the API and the CLI's `--json` agree by construction.
"""
