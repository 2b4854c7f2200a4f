"""A real Tryton server for tests: ``trytond`` 8.0 on SQLite, started once per pytest session.

Use it from any test directory by importing the fixture into a ``conftest.py`` (or a test
module)::

    from helpers_tryton import tryton_server  # noqa: F401

    def test_something(tryton_server):  # {"url", "database", "username", "password"}
        ...

Every definition shares one server per process (a module-level singleton stopped when the
session ends), so importing the fixture in several conftests starts one ``trytond``, and each
pytest-xdist worker starts its own (own temp directory, own free port).

The database (modules party, product, sale, account_invoice, stock and their dependencies,
a company "Dunder Mifflin" in EUR, the minimal chart of accounts, a fiscal year around today
with invoice sequences, a "Goods" product category with revenue/expense accounts, a "Direct"
payment term, a "Cash" payment method and a few countries) is built once by ``trytond-admin``
plus a proteus script and cached as a SQLite file under ``$CRM_TRYTON_CACHE`` (default:
``<tmp>/crm-tryton-cache``), keyed by trytond version, this file's setup version and the month
(the fiscal year covers today). Later sessions copy the file instead of initialising again
(about 20-30 s the first time, 1-2 s to start after). Run ``python tests/helpers_tryton.py``
to build the cache ahead. The server checks e-mail syntax but not DNS deliverability (test
machines have no DNS).

Data helpers (through the connector's own RPC client): ``tryton_client``, ``make_party``,
``make_product``, ``make_sale``, ``confirm_and_invoice``, ``pay_invoice``, ``head`` (the cursor
after every existing record of an object) and ``unique``. The database is shared by the
session's tests: create records with unique names and pull from ``head(...)``.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

__all__ = [
    "TRYTON_ADMIN_PASSWORD",
    "TRYTON_DATABASE",
    "TRYTON_MODULES",
    "TrytonServer",
    "cached_database",
    "confirm_and_invoice",
    "head",
    "make_party",
    "make_product",
    "make_sale",
    "pay_invoice",
    "tryton_client",
    "tryton_server",
    "unique",
]

TRYTON_MODULES = ("party", "product", "sale", "account_invoice", "stock")
TRYTON_DATABASE = "crm"
TRYTON_ADMIN_PASSWORD = "tryton-admin-secret"
#: Countries created in the test database (Tryton ships none until they are imported).
COUNTRIES = {"US": "United States", "DE": "Germany", "FR": "France", "GB": "United Kingdom"}
#: Bump when the setup below changes: the cache key includes it.
SETUP_VERSION = 2
START_TIMEOUT = 90.0
_BIN = Path(sys.executable).parent


def _trytond_version() -> str:
    from importlib.metadata import version

    return version("trytond")


def cache_dir() -> Path:
    """Where initialised databases are kept between sessions."""
    root = os.environ.get("CRM_TRYTON_CACHE") or os.path.join(
        tempfile.gettempdir(), "crm-tryton-cache"
    )
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _cache_file() -> Path:
    month = dt.date.today().strftime("%Y-%m")
    return cache_dir() / f"trytond-{_trytond_version()}-s{SETUP_VERSION}-{month}.sqlite"


def _write_config(workdir: Path, port: int) -> Path:
    config = workdir / "trytond.conf"
    config.write_text(
        "[database]\n"
        "uri = sqlite://\n"
        f"path = {workdir}\n"
        "[web]\n"
        f"listen = 127.0.0.1:{port}\n"
        "[session]\n"
        "timeout = 3600\n"
    )
    return config


def _environment(workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRYTOND_")}
    passfile = workdir / "admin-password"
    passfile.write_text(TRYTON_ADMIN_PASSWORD + "\n")
    env["TRYTONPASSFILE"] = str(passfile)
    env["TZ"] = "UTC"  # trytond on SQLite stamps rows with local time; Tryton means UTC
    return env


def _run(cmd: list[str], *, env: dict[str, str], log: Path, stdin: str = "") -> None:
    with log.open("ab") as out:
        result = subprocess.run(
            cmd, input=stdin.encode(), stdout=out, stderr=subprocess.STDOUT, env=env, check=False
        )
    if result.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{' '.join(cmd[:2])} failed ({result.returncode}):\n{tail}")


def _initialise(target: Path) -> float:
    """Build the database into ``target``; the seconds it took."""
    from crm_platform.testing import free_port  # here: the trytond subprocesses skip the app

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tryton-init-") as tmp:
        workdir = Path(tmp)
        config = _write_config(workdir, free_port())
        env = _environment(workdir)
        log = workdir / "init.log"
        (workdir / f"{TRYTON_DATABASE}.sqlite").touch()
        # trytond-admin asks for the admin e-mail on a new database: answer "none".
        _run(
            [
                str(_BIN / "trytond-admin"),
                "-c",
                str(config),
                "-d",
                TRYTON_DATABASE,
                "-u",
                *TRYTON_MODULES,
                "--activate-dependencies",
            ],
            env=env,
            log=log,
            stdin="\n",
        )
        _run(
            [sys.executable, str(Path(__file__).resolve()), "--setup", str(config)],
            env=env,
            log=log,
        )
        partial = target.with_suffix(f".{os.getpid()}.partial")
        shutil.copyfile(workdir / f"{TRYTON_DATABASE}.sqlite", partial)
        partial.replace(target)
    for stale in cache_dir().glob("trytond-*.sqlite"):  # older versions and months
        if stale != target and time.time() - stale.stat().st_mtime > 2 * 86400:
            stale.unlink(missing_ok=True)
    return time.monotonic() - started


def cached_database() -> tuple[Path, float]:
    """The initialised database file (built now when missing) and the seconds building took.

    A file lock keeps two xdist workers from building it at the same time.
    """
    target = _cache_file()
    if target.exists():
        return target, 0.0
    with (cache_dir() / "build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if target.exists():
                return target, 0.0
            return target, _initialise(target)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _setup(config: str) -> None:
    """Company, accounts, fiscal year and the little else sales and invoices need (proteus)."""
    from proteus import Model
    from proteus import config as proteus_config

    proteus_config.set_trytond(database=f"sqlite:///{TRYTON_DATABASE}", config_file=config)
    from trytond.modules.account.tests.tools import (
        create_chart,
        create_fiscalyear,
        get_accounts,
    )
    from trytond.modules.account_invoice.tests.tools import (
        create_payment_term,
        set_fiscalyear_invoice_sequences,
    )
    from trytond.modules.company.tests.tools import create_company, get_company

    create_company(currency="EUR")
    company = get_company()
    create_chart(company)
    fiscalyear = set_fiscalyear_invoice_sequences(create_fiscalyear(company))
    fiscalyear.click("create_period")
    accounts = get_accounts(company)
    category = Model.get("product.category")(
        name="Goods",
        accounting=True,
        account_revenue=accounts["revenue"],
        account_expense=accounts["expense"],
    )
    category.save()
    create_payment_term().save()
    journal = Model.get("account.journal").find([("code", "=", "CASH")])[0]
    Model.get("account.invoice.payment.method")(
        name="Cash",
        company=company,
        journal=journal,
        credit_account=accounts["cash"],
        debit_account=accounts["cash"],
    ).save()
    country = Model.get("country.country")
    for code, name in COUNTRIES.items():
        country(name=name, code=code).save()


def _login_answers(url: str) -> bool:
    body = json.dumps(
        {
            "id": 1,
            "method": "common.db.login",
            "params": ["admin", {"password": TRYTON_ADMIN_PASSWORD}, "en"],
        }
    ).encode()
    request = urllib.request.Request(
        f"{url}/{TRYTON_DATABASE}/rpc/",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return "result" in json.loads(response.read())
    except (OSError, ValueError):
        return False


class TrytonServer:
    """One ``trytond`` subprocess on a copy of the cached database, in its own directory."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.init_seconds = 0.0
        self.start_seconds = 0.0

    @property
    def url(self) -> str:
        """The server's base address."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def settings(self) -> dict[str, str]:
        """Connection settings for the connector."""
        return {
            "url": self.url,
            "database": TRYTON_DATABASE,
            "username": "admin",
            "password": TRYTON_ADMIN_PASSWORD,
        }

    def start(self) -> None:
        """Copy the cached database, start ``trytond`` and wait until a login succeeds."""
        from crm_platform.testing import free_port  # here: the trytond subprocesses skip the app

        source, self.init_seconds = cached_database()
        started = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, self.workdir / f"{TRYTON_DATABASE}.sqlite")
        last_error = ""
        for _attempt in range(3):  # a free port may be taken between the check and the bind
            self.port = free_port()
            config = _write_config(self.workdir, self.port)
            log = self.workdir / "trytond.log"
            with log.open("ab") as out:
                self.process = subprocess.Popen(
                    [
                        sys.executable,
                        str(Path(__file__).resolve()),
                        "--serve",
                        "-c",
                        str(config),
                        "-d",
                        TRYTON_DATABASE,
                    ],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=_environment(self.workdir),
                    cwd=self.workdir,
                )
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline and self.process.poll() is None:
                if _login_answers(self.url):
                    self.start_seconds = time.monotonic() - started
                    return
                time.sleep(0.2)
            last_error = log.read_text(errors="replace")[-3000:]
            self.stop()
        raise RuntimeError(f"trytond did not start in {self.workdir}:\n{last_error}")

    def stop(self) -> None:
        """Stop the server (terminate, then kill after 10 s)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


_SERVER: TrytonServer | None = None


@pytest.fixture(scope="session")
def tryton_server(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[dict[str, str]]:
    """Settings ``{url, database, username, password}`` of a running trytond (one per process).

    The database is shared by every test of the session: create records with unique names
    and start pulls from a cursor taken after the records the test needs to ignore.
    """
    global _SERVER
    if _SERVER is None or _SERVER.process is None:
        server = TrytonServer(tmp_path_factory.mktemp("trytond"))
        server.start()
        _SERVER = server
        request.config.add_cleanup(server.stop)
    yield dict(_SERVER.settings)


# -- data helpers for tests (through the connector's own RPC client) ------------------------


def tryton_client(settings: dict[str, str]) -> Any:
    """A logged-in :class:`~plugins.erp_tryton.client.TrytonClient` for ``settings``."""
    from plugins.erp_tryton.client import TrytonClient

    client = TrytonClient(
        settings["url"], settings["database"], settings["username"], settings["password"]
    )
    client.login()
    return client


def unique(prefix: str) -> str:
    """A name no other test uses."""
    return f"{prefix} {uuid.uuid4().hex[:8]}"


def head(connector: Any, settings: dict[str, str], object_key: str) -> str | None:
    """The cursor after every record that exists now (pull until nothing more)."""
    cursor = None
    for _ in range(100):
        page = connector.pull(settings, object_key, cursor, 500)
        cursor = page.cursor
        if not page.more:
            return cursor
    raise AssertionError("the pull never ended")


def make_party(rpc: Any, name: str, email: str | None = None) -> int:
    """A party (with an address) created in Tryton; its id."""
    values: dict[str, Any] = {"name": name, "addresses": [["create", [{"city": "Berlin"}]]]}
    if email:
        values["contact_mechanisms"] = [["create", [{"type": "email", "value": email}]]]
    return rpc.create("party.party", [values])[0]


def make_product(rpc: Any, name: str, price: str, kind: str = "service") -> int:
    """A salable product (template + variant) in the "Goods" category; the variant's id."""
    unit = rpc.search_read("product.uom", [("symbol", "=", "u")], ["id"])[0]["id"]
    category = rpc.search_read("product.category", [("name", "=", "Goods")], ["id"])[0]["id"]
    template = rpc.create(
        "product.template",
        [
            {
                "name": name,
                "type": kind,
                "default_uom": unit,
                "salable": True,
                "sale_uom": unit,
                "list_price": Decimal(price),
                "account_category": category,
                "code": name.split()[-1].upper(),
                "products": [["create", [{"suffix_code": "-1"}]]],
            }
        ],
    )[0]
    return rpc.read("product.template", [template], ["products"])[0]["products"][0]


def make_sale(rpc: Any, party: int, lines: list[tuple[int, float, str]]) -> int:
    """A draft sale of ``(product, quantity, unit price)`` lines; its id."""
    address = rpc.read("party.party", [party], ["addresses"])[0]["addresses"][0]
    products = rpc.read("product.product", [p for p, _, _ in lines], ["sale_uom", "name"])
    by_id = {p["id"]: p for p in products}
    return rpc.create(
        "sale.sale",
        [
            {
                "party": party,
                "invoice_address": address,
                "shipment_address": address,
                "lines": [
                    [
                        "create",
                        [
                            {
                                "type": "line",
                                "product": product,
                                "description": by_id[product]["name"],
                                "quantity": quantity,
                                "unit": by_id[product]["sale_uom"],
                                "unit_price": Decimal(price),
                            }
                            for product, quantity, price in lines
                        ],
                    ]
                ],
            }
        ],
    )[0]


def _serve(args: list[str]) -> int:
    """Run ``trytond args``, checking e-mail addresses without DNS (tests have no DNS).

    Tryton validates e-mail addresses with a deliverability (DNS) check; a sandbox or CI
    machine cannot resolve any domain, so every address would be refused. Syntax checks stay.
    """
    import trytond.tools.email_ as email_tools
    from email_validator import validate_email

    def syntax_only(email: str) -> str:
        return validate_email(email, check_deliverability=False).normalized

    email_tools.validate_email = syntax_only
    from trytond.cli import main as trytond_main

    sys.argv = ["trytond", *args]
    return int(trytond_main() or 0)


def confirm_and_invoice(rpc: Any, sale: int) -> int:
    """Quote, confirm and process ``sale``, then post its invoice; the invoice id."""
    for button in ("quote", "confirm", "process"):
        rpc.button("sale.sale", button, [sale])
    (invoice,) = rpc.read("sale.sale", [sale], ["invoices"])[0]["invoices"]
    rpc.write("account.invoice", [invoice], {"invoice_date": rpc.execute("ir.date", "today")})
    rpc.button("account.invoice", "post", [invoice])
    return invoice


def pay_invoice(settings: dict[str, str], invoice: int, amount: Decimal | None = None) -> None:
    """Pay a posted invoice in cash (Tryton's "Pay" wizard over RPC), fully or ``amount``."""
    rpc = tryton_client(settings)  # the wizard wants a fresh session
    try:
        wizard = "wizard.account.invoice.pay"
        context = {
            **rpc.context,
            "active_model": "account.invoice",
            "active_id": invoice,
            "active_ids": [invoice],
        }
        session, _, _ = rpc.call(f"{wizard}.create", context)
        view = rpc.call(f"{wizard}.execute", session, {}, "start", context)
        start = {k: v for k, v in view["view"]["defaults"].items() if not k.endswith(".")}
        method = rpc.search_read("account.invoice.payment.method", [], ["id"], limit=1)[0]
        start.update(
            payment_method=method["id"],
            date=rpc.execute("ir.date", "today"),
            description="Paid in cash",
        )
        if amount is not None:
            start["amount"] = amount
        result = rpc.call(f"{wizard}.execute", session, {"start": start}, "choice", context)
        if "view" in result:  # partial payment: keep the rest open
            ask = {k: v for k, v in result["view"]["defaults"].items() if not k.endswith(".")}
            ask["type"] = "partial"
            rpc.call(f"{wizard}.execute", session, {"start": start, "ask": ask}, "pay", context)
        rpc.call(f"{wizard}.delete", session, context)
    finally:
        rpc.logout()


def main(argv: list[str]) -> int:
    """``--setup CONFIG``: the proteus step of the build; ``--serve ARGS``: run trytond with
    e-mail checks that need no DNS; no argument: build the cache now and start once."""
    if argv[:1] == ["--setup"]:
        _setup(argv[1])
        return 0
    if argv[:1] == ["--serve"]:
        return _serve(argv[1:])
    path, seconds = cached_database()
    print(f"{path}: " + (f"built in {seconds:.1f} s" if seconds else "cached"))
    server = TrytonServer(Path(tempfile.mkdtemp(prefix="trytond-")))
    try:
        server.start()
        print(f"started on {server.url} in {server.start_seconds:.1f} s")
    finally:
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
