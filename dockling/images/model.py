"""Images as typed records: the image config, the image record, and the documents
docker's image routes answer with.

An image *is* its config blob: the image ID is the sha256 of those bytes, and
the bytes (kept in the content store) are what is hashed, pushed and saved.
``ImageConfig`` is a typed view decoded from them (``decode_config``); fields it
does not know are dropped from the view, never from the blob. A config that
dockling writes (build, commit, import) is built as an ``ImageConfig`` and
encoded once (``encode_config``), and those bytes are the image from then on.

The config's field names are the blob's JSON keys: OCI image-spec v1
(specs-go/v1/config.go: ``Image``, ``RootFS``, ``History``) plus the two keys of
docker's own format that inspect reads (moby image.V1Image: ``container``,
``container_config``). Its ``config`` object is docker's ``container.Config``,
which holds every field of OCI's ``ImageConfig`` and of docker's extension
(``Healthcheck``, ``OnBuild``, ``Shell``) under the same names, so configs made
by docker, BuildKit and OCI tools all decode into it. Every field of the blob is
omitempty in OCI's types: ``omit_defaults`` leaves the zero ones out when
dockling writes a config, as BuildKit does.

``Image`` is a row of the ``images`` table with its config and tags: not a
docker document, so its attributes are Python's names; ``InspectResponse``,
``Summary``, ``HistoryItem`` and ``DeleteItem`` are the answers made from it,
with docker's field names in Go's order (moby api/types/image).
"""

from __future__ import annotations

import msgspec

from dockling.containers.model import Config, DriverData
from dockling.errors import InvalidArgument


class ContainerConfig(Config, omit_defaults=True):
    """The image config's ``config``: container.Config (the record's type), what a
    container of the image runs unless its own config says otherwise; written without
    its zero fields, as BuildKit writes it."""


class RootFS(msgspec.Struct):
    """v1.RootFS: the layers' uncompressed digests, bottom first (not omitempty)."""
    type: str = ""
    diff_ids: list[str] = msgspec.field(default_factory=list)


class History(msgspec.Struct, omit_defaults=True):
    """v1.History: one build step; ``empty_layer`` steps made no layer."""
    created: str | None = None
    created_by: str = ""
    author: str = ""
    comment: str = ""
    empty_layer: bool = False


class ImageConfig(msgspec.Struct, omit_defaults=True):
    """v1.Image, and docker's ``container``/``container_config`` (the committing
    container, which docker 20.10's inspect shows and compose reads)."""
    created: str | None = None
    author: str = ""
    architecture: str = ""
    os: str = ""
    os_version: str = msgspec.field(default="", name="os.version")
    os_features: list[str] | None = msgspec.field(default=None, name="os.features")
    variant: str = ""
    config: ContainerConfig | None = None
    rootfs: RootFS = msgspec.field(default_factory=RootFS)
    history: list[History] | None = None
    container: str = ""
    container_config: ContainerConfig | None = None


_config_decoder = msgspec.json.Decoder(ImageConfig)
_encoder = msgspec.json.Encoder()


def decode_config(raw: bytes) -> ImageConfig:
    """The typed view of config bytes; InvalidArgument when they are no image config."""
    try:
        return _config_decoder.decode(raw)
    except msgspec.DecodeError as err:  # ValidationError is one too
        raise InvalidArgument(f"invalid image config: {err}") from err


def encode_config(config: ImageConfig) -> bytes:
    """The bytes of a config dockling makes: encoded once, their digest is the ID."""
    return _encoder.encode(config)


class Image(msgspec.Struct):
    """An ``images`` row with its config (a view of the blob) and its tags."""
    id: str
    created: str
    size: int
    parent: str
    repo_digests: list[str]
    config: ImageConfig
    tags: list[str]

    @property
    def diff_ids(self) -> list[str]:
        return list(self.config.rootfs.diff_ids)

    @property
    def container_config(self) -> ContainerConfig:
        """What a container of this image runs by default (an empty config if the
        image has none)."""
        return self.config.config or ContainerConfig()


# -- answers ------------------------------------------------------------------------------

class InspectRootFS(msgspec.Struct):
    """image.RootFS as inspect shows it."""
    Type: str = ""
    Layers: list[str] | None = None


class Metadata(msgspec.Struct):
    LastTagTime: str = ""


# image.InspectResponse's omitempty fields that dockling never sets, left out of
# InspectResponse so that they stay out of the answer, as Go leaves them out
INSPECT_NOT_SET = ("Variant", "OsVersion", "VirtualSize", "Descriptor", "Manifests")


class InspectResponse(msgspec.Struct):
    """GET /images/{name}/json (image.InspectResponse, as API < 1.50 answers it:
    ``Config`` is a container.Config)."""
    Id: str = ""
    RepoTags: list[str] | None = None
    RepoDigests: list[str] | None = None
    Parent: str = ""
    Comment: str = ""
    Created: str = ""
    Container: str = ""
    ContainerConfig: ContainerConfig | None = None
    DockerVersion: str = ""
    Author: str = ""
    Config: ContainerConfig | None = None
    Architecture: str = ""
    Os: str = ""
    Size: int = 0
    GraphDriver: DriverData = msgspec.field(default_factory=DriverData)
    RootFS: InspectRootFS = msgspec.field(default_factory=InspectRootFS)
    Metadata: Metadata = msgspec.field(default_factory=Metadata)


# image.Summary's omitempty fields dockling never sets (no containerd image store)
SUMMARY_NOT_SET = ("Descriptor", "Manifests")


class Summary(msgspec.Struct):
    """One entry of GET /images/json (image.Summary)."""
    Containers: int = 0
    Created: int = 0
    Id: str = ""
    Labels: dict[str, str] | None = None
    ParentId: str = ""
    RepoDigests: list[str] | None = None
    RepoTags: list[str] | None = None
    SharedSize: int = 0
    Size: int = 0
    VirtualSize: int = 0


class HistoryItem(msgspec.Struct):
    """One entry of GET /images/{name}/history (image.HistoryResponseItem)."""
    Id: str = ""
    Created: int = 0
    CreatedBy: str = ""
    Tags: list[str] | None = None
    Size: int = 0
    Comment: str = ""


class DeleteItem(msgspec.Struct, omit_defaults=True):
    """One entry of DELETE /images/{name} and of prune (image.DeleteResponse):
    either what was untagged or what was deleted."""
    Deleted: str = ""
    Untagged: str = ""

    def event(self, image_id: str) -> tuple[str, str, dict[str, str]]:
        """The image event this entry sends (moby's LogImageEvent): "untag" of the
        image ``image_id`` named by the tag, or "delete" of the deleted image."""
        if self.Deleted:
            return "delete", self.Deleted, {"name": self.Deleted}
        return "untag", image_id, {"name": self.Untagged}
