"""The API's request bodies: every field typed and bounded here, next to its limit.

Unknown fields are refused (a typo in a notebook is a 422 naming the field, not a silent default), numbers
must be finite, and lists are capped before any model work starts.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_GRID = 16  # n×n cells → at most 256
MAX_ROWS = 256  # latents per decode request
MAX_LATENT = 4096  # numbers per latent vector (a run's own latent_dim is checked against it later)
MAX_STEPS = 64
MAX_MAP_POINTS = 2000
MAX_DIRECTIONS = 16
MAX_PRIME = 500
MAX_LENGTH = 2000
MAX_QUERY = 64

Vector = Annotated[list[float], Field(min_length=1, max_length=MAX_LATENT)]
RunId = Annotated[str, Field(min_length=1, max_length=500, description="a run id from GET /api/runs")]
Seed = Annotated[int, Field(ge=0, le=2**31 - 1)]
Label = Annotated[int, Field(ge=0, le=10_000)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    run: RunId


class SampleRequest(Body):
    n: int = Field(4, ge=1, le=MAX_GRID, description="grid side: n×n samples")
    seed: Seed = 0
    scale: float = Field(1.0, gt=0, le=10, description="multiply the latents (temperature)")
    truncate: float | None = Field(None, gt=0, le=10, description="re-draw entries beyond ±truncate")
    label: Label | None = None
    code: int | None = Field(None, ge=0, le=1000, description="InfoGAN-coded GANs: the code of every cell")


class DecodeRequest(Body):
    z: list[Vector] = Field(min_length=1, max_length=MAX_ROWS)
    label: Label | None = None
    labels: list[Label] | None = Field(None, max_length=MAX_ROWS)
    code: int | None = Field(None, ge=0, le=1000)


class InterpolateRequest(Body):
    a: Vector
    b: Vector
    steps: int = Field(8, ge=2, le=MAX_STEPS)
    method: Literal["lerp", "slerp"] = "lerp"
    label: Label | None = None


class VectorRequest(Body):
    a: Vector
    b: Vector
    c: Vector
    label: Label | None = None


class DirectionsRequest(Body):
    k: int = Field(8, ge=1, le=MAX_DIRECTIONS, description="principal directions for latents above 16")


class MapRequest(Body):
    points: int = Field(1000, ge=10, le=MAX_MAP_POINTS)
    seed: Seed = 0


class MapPointRequest(MapRequest):
    index: int = Field(ge=0, lt=MAX_MAP_POINTS)


class UploadJson(Body):
    image: str = Field(min_length=1, max_length=3_000_000, description="data URL or base64 of PNG/JPEG/WebP/BMP")
    label: Label | None = None
    invert: bool | None = Field(None, description="None: invert dark-on-light pictures for grey models")


class AnswerRequest(Body):
    query: str = Field("", max_length=MAX_QUERY)
    image: str | None = Field(None, max_length=3_000_000, description="img2text: the query drawn, as a data URL")
    seed: Seed = 0


class HandwritingRequest(Body):
    query: str | None = Field(None, max_length=MAX_QUERY, description="default: a random query")
    seed: Seed = 0


class GenerateRequest(Body):
    prime: str = Field(min_length=1, max_length=MAX_PRIME)
    length: int = Field(400, ge=1, le=MAX_LENGTH)
    temperature: float = Field(0.8, ge=0, le=5)
    top_k: int | None = Field(None, ge=1, le=100_000)
    seed: Seed = 0
    stream: bool = True


__all__ = ["AnswerRequest", "DecodeRequest", "DirectionsRequest", "GenerateRequest", "HandwritingRequest",
           "InterpolateRequest", "MapPointRequest", "MapRequest", "SampleRequest", "UploadJson", "VectorRequest"]
