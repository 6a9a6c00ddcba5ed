"""bb manifest: assemble manifest lists (multi-platform images) and push them."""

import json

import typer

from bb.cmd.common import (
    RegistryFlags,
    open_store,
    verb_app,
    with_registry_flags,
)
from bb.image.config import check_format
from bb.image.reference import parse_reference
from bb.store.manifest_lists import ManifestListStore
from bb.transports import split_transport
from bb.transports.base import stored_image

app = verb_app(help="Create, change, inspect and push manifest lists.")

ARCH = typer.Option(None, "--arch", help="Architecture (GOARCH spelling).")
OS = typer.Option(None, "--os", help="Operating system.")
VARIANT = typer.Option(None, "--variant", help="Architecture variant (e.g. v8).")
OS_FEATURES = typer.Option([], "--os-features", help="Required OS feature (repeatable).")


@app.command("create")
def create(
    ctx: typer.Context, name: str = typer.Argument(...), images: list[str] = typer.Argument(None)
) -> None:
    """Create the list NAME, holding IMAGES."""
    store = open_store(ctx)
    lists = ManifestListStore(store)
    with store.lock():
        manifest_list = lists.create(name)
        manifest_list.entries = [
            lists.entry_for(store.images.lookup(image)) for image in images or []
        ]
        lists.save(manifest_list)
    print(manifest_list.name)


@app.command("add")
def add(
    ctx: typer.Context,
    name: str = typer.Argument(...),
    image: str = typer.Argument(...),
    arch: str | None = ARCH,
    os: str | None = OS,
    variant: str | None = VARIANT,
    os_features: list[str] = OS_FEATURES,
) -> None:
    """Add IMAGE to the list NAME (platform from the image's config unless given)."""
    store = open_store(ctx)
    lists = ManifestListStore(store)
    with store.lock():
        manifest_list = lists.get(name)
        entry = lists.entry_for(store.images.lookup(image))
        entry.set_platform(arch, os, variant, list(os_features))
        manifest_list.entries = [
            e for e in manifest_list.entries if e.image_id != entry.image_id
        ] + [entry]
        lists.save(manifest_list)
    print(entry.image_id)


@app.command("annotate")
def annotate(
    ctx: typer.Context,
    name: str = typer.Argument(...),
    image: str = typer.Argument(...),
    arch: str | None = ARCH,
    os: str | None = OS,
    variant: str | None = VARIANT,
    os_features: list[str] = OS_FEATURES,
    annotation: list[str] = typer.Option([], "--annotation", help="K=V"),
) -> None:
    """Change the platform or annotations of IMAGE in the list NAME."""
    from bb.errors import NotFound
    from bb.working_container.configuration import set_annotations

    store = open_store(ctx)
    lists = ManifestListStore(store)
    with store.lock():
        manifest_list = lists.get(name)
        image_id = store.images.lookup(image).id
        entry = next((e for e in manifest_list.entries if e.image_id == image_id), None)
        if entry is None:
            raise NotFound(f'image "{image}" is not in manifest list "{name}"')
        entry.set_platform(arch, os, variant, list(os_features))
        set_annotations(entry.annotations, list(annotation))
        lists.save(manifest_list)


@app.command("inspect")
def inspect(ctx: typer.Context, name: str = typer.Argument(...)) -> None:
    """Print the list as an OCI index (with the images' local manifest digests)."""
    store = open_store(ctx, repair=False)
    manifest_list = ManifestListStore(store).get(name)
    manifests = []
    for entry in manifest_list.entries:
        record = store.images.get(entry.image_id)
        descriptor = {
            "mediaType": record.manifest_media_type,
            "digest": record.manifest_digest,
            "size": store.blobs.size(record.manifest_digest),
            "platform": entry.platform_document(),
        }
        if entry.annotations:
            descriptor["annotations"] = entry.annotations
        manifests.append(descriptor)
    print(
        json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": manifests,
            },
            indent=4,
        )
    )


@app.command("push")
@with_registry_flags
def push(
    ctx: typer.Context,
    name: str = typer.Argument(...),
    destination: str | None = typer.Argument(
        None, help="docker://REGISTRY/REPO:TAG (default: the list's name)."
    ),
    image_format: str = typer.Option(
        "oci", "-f", "--format", help="oci (image index) or docker (manifest list)."
    ),
    all_images: bool = typer.Option(
        True, "--all", help="Push the images too (always: a bb list holds local images)."
    ),
    *,
    registry: RegistryFlags,
) -> None:
    """Push every image of the list and then the list itself; print the list's digest."""
    from bb.errors import InvalidArgument
    from bb.transports.registry.push import push_manifest_list

    store = open_store(ctx, repair=False)
    manifest_list = ManifestListStore(store).get(name)
    target = destination or manifest_list.name
    parsed = split_transport(target)
    if parsed is not None and parsed[0] != "docker":
        raise InvalidArgument(
            f'"{target}": manifest lists can only be pushed to docker:// registries'
        )
    location = parsed[1] if parsed else target
    options = registry.options(
        image_format=check_format(image_format),
    )
    images = [
        (stored_image(store, store.images.get(e.image_id)), e.platform_document())
        for e in manifest_list.entries
    ]
    print(
        push_manifest_list(
            store, images, parse_reference(location, default_registry="docker.io"), options
        )
    )


@app.command("rm")
def rm(ctx: typer.Context, names: list[str] = typer.Argument(...)) -> None:
    """Remove manifest lists (their images stay)."""
    store = open_store(ctx)
    with store.lock():
        for name in names:
            ManifestListStore(store).remove(name)
