"""The base of every pydantic model in chalicelib: built on first use, not at import.

Pydantic builds a model's validator and serializer when its class is created.
With every feature's request, record and message models that was the larger
part of `import app`, so the HTTP function's cold start grew with each feature
(bench/cold_start.py). ``defer_build`` builds a model on its first
validation, dump or JSON schema instead: a container pays once for the models
its requests touch, and a new feature's models cost nothing until used.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    model_config = ConfigDict(defer_build=True)
