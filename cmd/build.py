"""bb build (also `bb bud`): build an image from a Dockerfile."""

from os import sched_getaffinity

import typer

from bb.cmd.common import (
    ARCH_OPTION,
    OS_OPTION,
    PULL,
    VARIANT_OPTION,
    RegistryFlags,
    isula_build_mode,
    open_store,
    pull_policy,
    verb_app,
    with_registry_flags,
)
from bb.dockerfile_executor.executor import (
    BuildOptions,
    check_output_file,
    parse_build_args,
    parse_build_context,
    parse_build_static,
)
from bb.dockerfile_executor.platforms import build_platforms
from bb.dockerfile_executor.run_mounts import parse_secret
from bb.dockerfile_executor.ssh_agent import parse_ssh
from bb.errors import InvalidArgument
from bb.image.platform import requested_platforms
from bb.runtime.spec import parse_confinement
from bb.system.atomic import write_atomic
from bb.system.units import parse_duration

app = verb_app()


@app.command("build")
@with_registry_flags
def build(
    ctx: typer.Context,
    context: str = typer.Argument(".", help="Build context directory."),
    file: str | None = typer.Option(
        None, "-f", "--file", help="Dockerfile (default CONTEXT/Dockerfile)."
    ),
    tag: list[str] = typer.Option(
        [], "-t", "--tag", help="Name the image NAME[:TAG] (repeatable)."
    ),
    build_arg: list[str] = typer.Option(
        [], "--build-arg", help="Build argument NAME=VALUE (repeatable)."
    ),
    target: str | None = typer.Option(None, "--target", help="Build up to this stage."),
    iidfile: str | None = typer.Option(None, "--iidfile", help="Write the image ID to this file."),
    cap_add: list[str] = typer.Option(
        [], "--cap-add", help="Add a capability to RUN steps, or ALL (repeatable)."
    ),
    cap_drop: list[str] = typer.Option(
        [], "--cap-drop", help="Drop a capability from RUN steps, or ALL (repeatable)."
    ),
    security_opt: list[str] = typer.Option(
        [],
        "--security-opt",
        help="RUN steps: seccomp=unconfined, seccomp=PATH or no-new-privileges (repeatable).",
    ),
    network: str | None = typer.Option(
        None, "--network", help="RUN steps' network: host (the default) or none."
    ),
    secret: list[str] = typer.Option(
        [],
        "--secret",
        help="id=ID,src=FILE or id=ID,env=VAR for RUN --mount=type=secret (repeatable).",
    ),
    ssh: list[str] = typer.Option(
        [],
        "--ssh",
        help="default, default=SOCKET or ID=SOCKET: an ssh agent for RUN --mount=type=ssh "
        "(repeatable).",
    ),
    build_context: list[str] = typer.Option(
        [],
        "--build-context",
        help="NAME=DIR, NAME=docker-image://REF or NAME=oci-layout://PATH[:TAG] for FROM, "
        "COPY --from and RUN --mount from= (repeatable).",
    ),
    proxy: bool = typer.Option(
        True, "--proxy/--no-proxy", help="Pass the caller's *_proxy variables to RUN steps."
    ),
    build_static: str | None = typer.Option(
        None, "--build-static", help="build-time='YYYY-MM-DD HH:MM:SS': reproducible image ID."
    ),
    timestamp: int | None = typer.Option(
        None, "--timestamp", help="Fixed created time and mtimes (epoch seconds)."
    ),
    layers: bool = typer.Option(
        False, "--layers", help="Commit every step and reuse unchanged ones (layer cache)."
    ),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not reuse cached steps."),
    cache_to: str | None = typer.Option(
        None, "--cache-to", help="With --layers: push each step's image to [docker://]REG/REPO."
    ),
    cache_from: str | None = typer.Option(
        None,
        "--cache-from",
        help="With --layers: pull steps not cached here from [docker://]REG/REPO.",
    ),
    cache_ttl: str | None = typer.Option(
        None, "--cache-ttl", help="Use only cached images created less than this long ago (1h)."
    ),
    remove: bool = typer.Option(True, "--rm/--no-rm", help="Remove intermediate containers."),
    output: list[str] = typer.Option(
        [], "-o", "--output", help="Also write the image to this destination."
    ),
    image_format: str = typer.Option("oci", "--format", help="Manifest format: oci or docker."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Print only the image ID."),
    keep_failed: bool = typer.Option(
        False, "--keep-failed", help="Keep the failing stage's container for debugging."
    ),
    pull: str = PULL,
    platform: list[str] = typer.Option(
        [],
        "--platform",
        help="OS/ARCH[/VARIANT] to build for; several (comma-separated) need --manifest.",
    ),
    arch: str | None = ARCH_OPTION,
    os: str | None = OS_OPTION,
    variant: str | None = VARIANT_OPTION,
    all_platforms: bool = typer.Option(
        False, "--all-platforms", help="Build for every platform the base images are there for."
    ),
    manifest: str | None = typer.Option(
        None, "--manifest", help="Add the image(s) to this local manifest list (made if missing)."
    ),
    jobs: int | None = typer.Option(
        None,
        "--jobs",
        help="Stages built at once, independent ones concurrently (default: the cores; 0: all).",
    ),
    *,
    registry: RegistryFlags,
) -> None:
    """Build an image from a Dockerfile and the CONTEXT directory; print its ID last."""
    if build_static is not None and timestamp is not None:
        raise typer.BadParameter("give --build-static or --timestamp, not both")
    platforms = requested_platforms(list(platform), arch, os, variant)
    if (len(platforms) > 1 or all_platforms) and (iidfile or output):
        raise InvalidArgument("--iidfile and -o take one image: build for one platform")
    if jobs is not None and jobs < 0:
        raise typer.BadParameter(f"--jobs {jobs}: must be 0 or more")
    if iidfile:
        check_output_file("--iidfile", iidfile)
    ttl = parse_duration(cache_ttl, "--cache-ttl") / 1e9 if cache_ttl is not None else None
    tags = list(tag)
    if output:
        from bb.transports import destination_name, output_path

        for destination in output:  # a bad -o fails before the build, not after it
            archive = output_path(destination)
            if archive is not None:
                check_output_file("-o", archive)
            named = destination_name(destination)
            if isula_build_mode(ctx) and named:  # isula-build names the stored image as well
                tags.append(named)
    transport = registry.options(
        quiet=quiet,
        short_local_names=not isula_build_mode(ctx),
    )
    options = BuildOptions(
        context_dir=context,
        dockerfile=file,
        tags=tags,
        build_args=parse_build_args(list(build_arg)),
        target=target,
        confinement=parse_confinement(list(cap_add), list(cap_drop), list(security_opt), network),
        proxy=proxy,
        secrets=dict(parse_secret(text) for text in secret),
        ssh=dict(parse_ssh(text) for text in ssh),
        build_contexts=dict(parse_build_context(text) for text in build_context),
        timestamp=parse_build_static(build_static) if build_static is not None else timestamp,
        layers=layers,
        no_cache=no_cache or ttl == 0,  # buildah's rule: --cache-ttl=0 is --no-cache
        cache_to=cache_to,
        cache_from=cache_from,
        cache_ttl=ttl,
        image_format=image_format,
        quiet=quiet,
        keep_failed=keep_failed,
        pull=pull_policy(pull),
        registry=transport,
        remove_containers=remove,
        isula_build_steps=isula_build_mode(ctx),
        platforms=platforms,
        all_platforms=all_platforms,
        manifest=manifest,
        jobs=len(sched_getaffinity(0)) if jobs is None else jobs,
    )
    store = open_store(ctx)
    built = build_platforms(store, options, report=lambda line: print(line, flush=True))
    image = built[-1][1]
    if output:
        from bb.transports import export_image

        for destination in output:
            export_image(store, image, destination, transport)
    if iidfile:
        write_atomic(iidfile, f"sha256:{image.id}".encode(), mode=0o644)
    for _, record in built:
        print(f"Build success with image id: {record.id}" if isula_build_mode(ctx) else record.id)
