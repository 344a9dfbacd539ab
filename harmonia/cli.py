"""The ``harmonia`` command: serve, simulate, demo, token, schema.

    harmonia demo                                  # simulators + gateway + a token per demo role
    harmonia serve --config harmonia.yaml --port 4000 --workers 2
    harmonia simulate --latency-ms 5 --no-rate-limits
    harmonia token --role analyst --sub ana --ttl 3600
    harmonia policy export -o policy.yaml          # the file's policy plus the admins' runtime changes
    harmonia doctor                                # each source: credentials, scopes, version, quota
    harmonia schema check next.graphql --window 7d # breaking changes joined with recorded usage
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harmonia.auth.admin import Catalog
    from harmonia.auth.policy import Policy
    from harmonia.checks.report import CheckReport
    from harmonia.settings import Settings

DEMO_ROLES = ("admin", "marketer", "analyst", "support")
CONFIG_ENV = "HARMONIA_CONFIG_FILE"


def create_app_from_env() -> object:
    """uvicorn factory (``--workers`` needs an import string): settings from the file named in the env."""
    from harmonia.app import create_app
    from harmonia.gc_tuning import tune_garbage_collector
    from harmonia.settings import load_settings

    app = create_app(load_settings(os.environ.get(CONFIG_ENV) or None))
    tune_garbage_collector()  # a serving process: see harmonia/gc_tuning.py
    return app


def check_policy(path: str | None) -> None:
    """Refuse an invalid policy file before serving (PolicyError names the line and the reason)."""
    from harmonia.auth.policy_file import load_policy
    from harmonia.schema import build_schema
    from harmonia.schema.catalog import catalog_of

    load_policy(path, catalog_of(build_schema()._schema))


def _uvicorn_options() -> dict[str, str]:
    options = {}
    try:
        import uvloop  # noqa: F401

        options["loop"] = "uvloop"
    except ImportError:
        pass
    try:
        import httptools  # noqa: F401

        options["http"] = "httptools"
    except ImportError:
        pass
    return options


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from harmonia.auth.key_checks import check_token_keys
    from harmonia.credentials.build import check_credentials
    from harmonia.settings import load_settings

    if args.config:
        os.environ[CONFIG_ENV] = args.config
    settings = load_settings(args.config)  # fail now, with the reason, rather than in every worker
    check_token_keys(settings.auth)
    check_policy(settings.auth.policy_file)
    for warning in check_credentials(settings.sources):
        print(f"harmonia: warning: {warning}", file=sys.stderr)
    _check_tracing_env()
    with _metrics_dir(args.workers):
        uvicorn.run("harmonia.cli:create_app_from_env", factory=True, host=args.host, port=args.port,
                    workers=args.workers, log_level="warning", **_uvicorn_options())  # type: ignore[arg-type]
    return 0


def _check_tracing_env() -> None:
    """A bad OTEL_TRACES_EXPORTER fails here, with the reason, rather than in every worker."""
    from harmonia.observability.tracing import exporter_from_env

    exporter = exporter_from_env()
    if exporter is not None:
        exporter.shutdown()


@contextlib.contextmanager
def _metrics_dir(workers: int) -> Iterator[None]:
    """With several workers, a directory where each leaves its metrics for /metrics to add up."""
    from harmonia.observability.telemetry import METRICS_DIR_ENV

    if workers <= 1 or os.environ.get(METRICS_DIR_ENV):
        yield
        return
    directory = tempfile.mkdtemp(prefix="harmonia-metrics-")
    os.environ[METRICS_DIR_ENV] = directory  # the workers inherit it
    try:
        yield
    finally:
        del os.environ[METRICS_DIR_ENV]
        shutil.rmtree(directory, ignore_errors=True)


def _simulator_app(args: argparse.Namespace) -> object:
    from harmonia.simulators.app import create_simulator_app
    from harmonia.simulators.core import SimulatorConfig

    return create_simulator_app(SimulatorConfig(seed=args.seed, latency_ms=args.latency_ms,
                                                rate_limits=not args.no_rate_limits,
                                                token_lifetime_seconds=args.token_lifetime,
                                                shopify_read_all_orders=not args.no_read_all_orders))


def cmd_simulate(args: argparse.Namespace) -> int:
    import uvicorn

    print(f"SaaS simulators on http://{args.host}:{args.port} "
          "(/hubspot /shopify /mailchimp /ga4 /googleads)", flush=True)
    uvicorn.run(_simulator_app(args), host=args.host, port=args.port, log_level="warning",  # type: ignore[arg-type]
                **_uvicorn_options())  # type: ignore[arg-type]
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    import uvicorn

    from harmonia.app import create_app
    from harmonia.settings import DEMO_CREDENTIALS, load_settings
    from harmonia.sources.declared import SHIPPED_DECLARATIONS

    busy = [f"--{flag} {port}" for flag, port in (("port", args.port), ("sim-port", args.sim_port))
            if not _port_free(args.host, port)]
    if busy:
        print(f"harmonia: {' and '.join(busy)} on {args.host} already in use (another demo?): "
              "stop it, or choose other ports with --port and --sim-port", file=sys.stderr)
        return 2
    sim_url = f"http://{args.host}:{args.sim_port}"
    sources: dict[str, dict[str, str]] = {
        name: {"base_url": f"{sim_url}/{name}"} for name in ("hubspot", "shopify", "mailchimp", "ga4", "googleads")}
    # The shipped declared sources (Meta Ads, Klaviyo) on their simulators, with the simulators' credentials
    # (HARMONIA_SOURCES_DIR set to another folder wins: the environment beats these).
    sources["meta_ads"] = {"base_url": f"{sim_url}/meta_ads",
                           "access_token": DEMO_CREDENTIALS["meta_ads_access_token"],
                           "ad_account_id": DEMO_CREDENTIALS["meta_ads_ad_account_id"]}
    sources["klaviyo"] = {"base_url": f"{sim_url}/klaviyo", "api_key": DEMO_CREDENTIALS["klaviyo_api_key"]}
    settings = load_settings(args.config, dev_mode=True, sources=sources, sources_dir=str(SHIPPED_DECLARATIONS))
    if not settings.auth.jwt_secret and not settings.auth.jwks_url:
        # The demo's own key, new every run: tokens it prints die with it, and nothing published signs them.
        settings.auth.jwt_secret = secrets.token_urlsafe(48)
    gateway = create_app(settings)
    simulators = _simulator_app(args)
    options = _uvicorn_options()
    servers = [
        uvicorn.Server(uvicorn.Config(simulators, host=args.host, port=args.sim_port,  # type: ignore[arg-type]
                                      log_level="warning", **options)),  # type: ignore[arg-type]
        uvicorn.Server(uvicorn.Config(gateway, host=args.host, port=args.port, log_level="warning",
                                      **options)),  # type: ignore[arg-type]
    ]
    print(f"harmonia: starting the SaaS simulators on {sim_url} and the gateway on "
          f"http://{args.host}:{args.port}", flush=True)

    async def run() -> None:
        serving = [asyncio.create_task(server.serve()) for server in servers]
        while not all(server.started for server in servers):
            if any(task.done() for task in serving):  # one could not start (uvicorn said why)
                break
            await asyncio.sleep(0.05)
        else:
            _print_demo_welcome(args, settings)
        await asyncio.gather(*serving)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0


def _port_free(host: str, port: int) -> bool:
    import socket

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is no obstacle
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _print_demo_welcome(args: argparse.Namespace, settings: Settings) -> None:
    """The URLs and a ready-made token per demo role, once both servers listen."""
    from harmonia.auth.tokens import mint_token

    secret = settings.auth.jwt_secret or ""
    url = f"http://{args.host}:{args.port}/graphql"
    admin_page = ""
    print(f"harmonia: gateway ready\n\nHarmonia demo\n  simulators: http://{args.host}:{args.sim_port}\n"
          f"  GraphiQL:   {url}  (open a role's link: the token rides in the URL fragment)\n", flush=True)
    for role in DEMO_ROLES:
        scopes = ["privacy"] if role == "admin" else []
        token = mint_token(secret, roles=[role], sub=f"demo-{role}", scopes=scopes, ttl=7 * 24 * 3600,
                           issuer=settings.auth.issuer, audience=settings.auth.audience)
        print(f"  {role:<9} {url}#token={token}", flush=True)
        if role == "admin":
            admin_page = f"http://{args.host}:{args.port}/admin#token={token}"
    print(f"\n  field policies (admin page): {admin_page}", flush=True)
    print(f"  sources catalogue:           {admin_page.replace('/admin#', '/admin/sources#')}", flush=True)
    print("\n  curl: curl -s -H 'Authorization: Bearer <token>' -H 'Content-Type: application/json' \\\n"
          f"        -d '{{\"query\":\"{{ customers(first: 3) {{ edges {{ node {{ email }} }} }} }}\"}}' {url}\n"
          "Ctrl-C stops everything.", flush=True)


def cmd_token(args: argparse.Namespace) -> int:
    from harmonia.auth.key_checks import check_token_keys
    from harmonia.auth.tokens import mint_token
    from harmonia.settings import load_settings

    settings = load_settings(args.config)
    if settings.auth.jwks_url or not settings.auth.jwt_secret:
        print("harmonia token: no HS256 secret configured: set HARMONIA_AUTH__JWT_SECRET to the gateway's "
              "secret (with a JWKS, tokens come from your identity provider; `harmonia demo` prints its own)",
              file=sys.stderr)
        return 2
    check_token_keys(settings.auth)  # never mint with a published or guessable secret
    print(mint_token(settings.auth.jwt_secret, roles=args.role, sub=args.sub or f"dev-{args.role[0]}",
                     scopes=(args.scope or "").split(), ttl=args.ttl, issuer=settings.auth.issuer,
                     audience=settings.auth.audience))
    return 0


def cmd_policy_export(args: argparse.Namespace) -> int:
    """The effective policy (the file plus the admins' overlays from Redis) as a policy file."""

    from harmonia.auth.overlays import overlays_for
    from harmonia.auth.policy_file import dump_policy, load_policy
    from harmonia.auth.store import PolicyStore
    from harmonia.schema import build_schema
    from harmonia.schema.catalog import catalog_of
    from harmonia.settings import load_settings
    from harmonia.shared_state import FAILURES, RedisTarget

    settings = load_settings(args.config)
    base = load_policy(settings.auth.policy_file, catalog_of(build_schema()._schema))

    async def effective() -> str:
        store = PolicyStore(base, overlays_for(RedisTarget.from_settings(settings)))
        try:
            await store.refresh()  # a failure to reach Redis is an error here, not a silent file-only export
            return dump_policy(store.current)
        finally:
            await store.stop()

    try:
        text = asyncio.run(effective())
    except FAILURES as exc:
        print(f"harmonia: could not read the runtime policy changes from Redis ({type(exc).__name__})",
              file=sys.stderr)
        return 2
    if args.output and args.output != "-":
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(text)
        print(f"harmonia: wrote the effective policy to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    if not settings.redis_url:
        print("harmonia: no redis_url configured: runtime changes live in each gateway process and are not "
              "included", file=sys.stderr)
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    """One cheap call per source; the table, each problem with its fix; exit 1 when something failed."""
    import json
    from datetime import date

    from harmonia.doctor import examine, exit_code, render
    from harmonia.schema import built_in_type_names
    from harmonia.settings import load_settings
    from harmonia.sources.declared.loader import DeclarationError, load_folder

    settings = load_settings(args.config)
    today = date.today()
    try:
        declared = load_folder(settings.sources_dir, built_in_type_names())
    except DeclarationError as exc:
        print(f"harmonia doctor: the sources folder is refused: {exc}", file=sys.stderr)
        return 2
    rows = asyncio.run(examine(settings, today=today, declared=declared))
    if args.json:
        print(json.dumps({"date": today.isoformat(), "sources": [r.as_json() for r in rows]}, indent=2))
    else:
        print(render(rows, today))
    return exit_code(rows, strict=args.strict)


def cmd_schema(args: argparse.Namespace) -> int:
    """The SDL the gateway serves: the built-in sources and the declared ones HARMONIA_SOURCES_DIR names."""
    from harmonia.schema import build_schema, built_in_type_names
    from harmonia.settings import load_settings
    from harmonia.sources.declared.loader import DeclarationError, load_folder

    if getattr(args, "schema_command", None) == "check":
        return cmd_schema_check(args)
    try:
        found = load_folder(load_settings(getattr(args, "config", None)).sources_dir, built_in_type_names())
    except DeclarationError as exc:
        print(f"harmonia schema: the sources folder is refused: {exc}", file=sys.stderr)
        return 2
    print(str(build_schema(found)))
    return 0


def cmd_schema_check(args: argparse.Namespace) -> int:
    """A proposed schema or policy against the current one and the recorded usage: 0 safe, 1 breaking, 2 error."""
    import json
    from pathlib import Path

    from graphql import GraphQLSchema

    from harmonia.auth.policy_file import PolicyError
    from harmonia.checks.proposal import ProposalError, check_proposal, parse_window
    from harmonia.checks.render import render_json, render_text
    from harmonia.checks.report import Threshold
    from harmonia.observability.usage import FieldUsage
    from harmonia.schema import build_schema, built_in_type_names
    from harmonia.schema.catalog import catalog_of
    from harmonia.settings import load_settings
    from harmonia.shared_state import FAILURES, RedisTarget
    from harmonia.sources.declared.loader import DeclarationError, load_folder

    settings = load_settings(args.config)
    checks = settings.schema_checks
    try:
        window = parse_window(args.window or checks.window)
        threshold = Threshold.parse(args.threshold if args.threshold is not None else checks.threshold)
    except ValueError as exc:
        print(f"harmonia schema check: {exc}", file=sys.stderr)
        return 2
    def declared_schema(folder: Path) -> GraphQLSchema:
        try:
            return build_schema(load_folder(folder, built_in_type_names()))._schema
        except DeclarationError as exc:
            raise ProposalError(f"the proposed sources folder is refused: {exc}") from None

    try:  # what runs: the built-in five and the declared sources HARMONIA_SOURCES_DIR names
        schema = build_schema(load_folder(settings.sources_dir, built_in_type_names()))._schema
    except DeclarationError as exc:
        print(f"harmonia schema check: the configured sources folder is refused: {exc}", file=sys.stderr)
        return 2
    catalog = catalog_of(schema)
    obs = settings.observability
    target = RedisTarget.from_settings(settings)
    usage = FieldUsage(target, prefix=obs.field_usage_key_prefix) if target is not None else None

    async def run() -> CheckReport:
        try:
            policy = await _effective_policy(settings, catalog)
            return await check_proposal(Path(args.proposed), current_schema=schema, current_policy=policy,
                                        catalog=catalog, usage=usage, window_hours=window, threshold=threshold,
                                        ignored_clients=[*checks.ignored_clients, *(args.ignore_client or [])],
                                        declared_schema=declared_schema)
        finally:
            if usage is not None:
                await usage.aclose()

    try:
        report = asyncio.run(run())
    except (ProposalError, PolicyError) as exc:
        print(f"harmonia schema check: {exc}", file=sys.stderr)
        return 2
    except FAILURES as exc:
        print(f"harmonia schema check: could not read the recorded usage from Redis ({type(exc).__name__})",
              file=sys.stderr)
        return 2
    print(json.dumps(render_json(report), indent=2) if args.json else render_text(report))
    return report.exit_code


async def _effective_policy(settings: Settings, catalog: Catalog) -> Policy:
    """The policy file plus the admins' runtime changes from Redis (when configured)."""
    from harmonia.auth.overlays import overlays_for
    from harmonia.auth.policy_file import load_policy
    from harmonia.auth.store import PolicyStore
    from harmonia.shared_state import RedisTarget

    base = load_policy(settings.auth.policy_file, catalog)
    if not settings.redis_url:
        return base
    store = PolicyStore(base, overlays_for(RedisTarget.from_settings(settings)))
    try:
        await store.refresh()
        return store.current
    finally:
        await store.stop()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harmonia", description=__doc__.split("\n")[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the gateway")
    serve.add_argument("--config", default=None)
    serve.add_argument("--host", default="127.0.0.1",
                       help="default 127.0.0.1 (this machine only); 0.0.0.0 listens on every interface (a container)")
    serve.add_argument("--port", type=int, default=4000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(func=cmd_serve)

    for name, helptext, func in (("simulate", "run the SaaS simulators", cmd_simulate),
                                 ("demo", "simulators + gateway + demo tokens", cmd_demo)):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--latency-ms", type=float, default=0.0)
        p.add_argument("--seed", type=int, default=7)
        p.add_argument("--no-rate-limits", action="store_true")
        p.add_argument("--no-read-all-orders", action="store_true",
                       help="the simulated Shopify app lacks read_all_orders: only 60 days of orders")
        p.add_argument("--token-lifetime", type=float, default=None, metavar="SECONDS",
                       help="lifetime of the access tokens the simulated token endpoints issue "
                            "(default: each vendor's)")
        if name == "simulate":
            p.add_argument("--port", type=int, default=8100)
        else:
            p.add_argument("--port", type=int, default=4000)
            p.add_argument("--sim-port", type=int, default=8100)
            p.add_argument("--config", default=None)
        p.set_defaults(func=func)

    token = sub.add_parser("token", help="mint a development token (HS256)")
    token.add_argument("--role", action="append", required=True, help="repeat for several roles")
    token.add_argument("--sub", default=None)
    token.add_argument("--scope", default=None, help='space-separated, e.g. "privacy"')
    token.add_argument("--ttl", type=int, default=3600)
    token.add_argument("--config", default=None)
    token.set_defaults(func=cmd_token)

    policy = sub.add_parser("policy", help="field policies")
    policy_sub = policy.add_subparsers(dest="policy_command", required=True)
    export = policy_sub.add_parser("export", help="write the effective policy (file + runtime changes) as YAML")
    export.add_argument("--config", default=None)
    export.add_argument("--output", "-o", default="-", help="a file, or - for stdout (the default)")
    export.set_defaults(func=cmd_policy_export)

    doctor = sub.add_parser("doctor", help="check each source: credentials, scopes, API version, quota")
    doctor.add_argument("--config", default=None)
    doctor.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    doctor.add_argument("--json", action="store_true", help="the findings as JSON")
    doctor.set_defaults(func=cmd_doctor)

    schema = sub.add_parser("schema", help="print the SDL; `schema check PROPOSED` checks a change")
    schema.set_defaults(func=cmd_schema)
    schema_sub = schema.add_subparsers(dest="schema_command")
    check = schema_sub.add_parser(
        "check", help="a proposed schema (.graphql) or policy file (.yaml) against the current one and the "
                      "recorded field usage: exit 0 safe, 1 breaking, 2 error")
    check.add_argument("proposed", help="a schema (.graphql), a policy file (.yaml) or a sources folder")
    check.add_argument("--window", default=None, help="usage to look at, e.g. 7d (default) or 24h")
    check.add_argument("--threshold", default=None,
                       help="accept a breaking change hurting at most N operations, or N%% of all (default 0)")
    check.add_argument("--ignore-client", action="append", help="leave this client's usage out (repeatable)")
    check.add_argument("--json", action="store_true", help="the report as JSON")
    check.add_argument("--config", default=None)
    check.set_defaults(func=cmd_schema)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except (FileNotFoundError, ValueError) as exc:
        print(f"harmonia: {exc}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    raise SystemExit(main())
