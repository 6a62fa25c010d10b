"""The command line, run as the operator runs it: `python server.py ...` against the test database."""

import asyncio
import json
import os
import re
import socket
import sys
from pathlib import Path

import aiohttp
import jwt
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import text

from commands.platform_import import import_platform_data
from models.migrate import alembic_config
from tests.support.processes import ROOT, free_port
from tests.support.world import build_world, unchanged

# The newest migration (each issue may add one): what an up-to-date database is at.
HEAD = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()

VIEWER = "query { viewer { role shop { platformId } creator { platformId } } }"
IMPORTED = """query {
  viewer { shop { id name status affiliateGmv30d products { nodes { id platformId title price currency } } } }
  outreachQuota { weeklyLimit }
  creators(filter: {search: "import"}, first: 100) {
    nodes { id platformId handle displayName avatarUrl followerCount mainCategory gmv30d }
  }
}"""


def cli_env(database_url: str, tmp_path: Path, secret: str) -> dict:
    env = {
        key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "INBOX_ENV", "INBOX_OUTREACH_TIERS")
    }
    env.update(DATABASE_URL=database_url, INBOX_JWT_SECRET=secret, INBOX_DATA_DIR=str(tmp_path / "cli-data"))
    return env


async def cli(env: dict, *args: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `python server.py ARGS`."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "server.py",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None  # communicate() waited for the exit
    return process.returncode, out.decode(), err.decode()


def write(path: Path, data) -> str:
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def import_file(shop_name="Import Shop", gmv="1500.00", price="25.00", creators=None) -> dict:
    return {
        "shops": [
            {
                "platformId": "imp-s",
                "name": shop_name,
                "status": "ACTIVE",
                "affiliateGmv30d": gmv,
                "products": [
                    {"platformId": "imp-p1", "title": "Lamp", "price": price, "currency": "EUR", "imageUrl": None},
                    {"platformId": "imp-p2", "title": "Rug", "price": "80.00", "currency": "EUR"},
                ],
            }
        ],
        "creators": creators
        if creators is not None
        else [
            {
                "platformId": "imp-c1",
                "handle": "importone",
                "displayName": "Import One",
                "avatarUrl": None,
                "followerCount": 10,
                "mainCategory": "Home",
                "gmv30d": "1.50",
            },
            {
                "platformId": "imp-c2",
                "handle": "importtwo",
                "displayName": "Import Two",
                "avatarUrl": "https://img.example/two.png",
                "followerCount": 20,
                "mainCategory": "Home",
                "gmv30d": "2.50",
            },
        ],
    }


def malformed_file() -> dict:
    """Good records around two bad ones: a creator's follower count and a product's price."""
    data = import_file()
    data["shops"][0]["platformId"] = "mal-shop"
    data["shops"][0]["products"][0]["platformId"] = "mal-p1"
    data["shops"][0]["products"][1].update(platformId="mal-p2", price="-3")
    data["creators"] = [
        {
            "platformId": "mal-ok",
            "handle": "malok",
            "displayName": "Mal Ok",
            "followerCount": 1,
            "mainCategory": "Tech",
            "gmv30d": "1.00",
        },
        {
            "platformId": "mal-bad",
            "handle": "malbad",
            "displayName": "Mal Bad",
            "followerCount": "lots",
            "mainCategory": "Tech",
            "gmv30d": "1.00",
        },
    ]
    return data


async def test_cli_migrate_and_import_upsert(api, database_url, tmp_path):
    """One operator migrates while another imports a file twice, then with changed values.
    Subprocesses are slow to start, so the two run side by side."""
    await build_world(api.engine)
    env = cli_env(database_url, tmp_path, api.secret)
    good = write(tmp_path / "platform.json", import_file())
    changed = write(
        tmp_path / "platform-2.json",
        import_file(
            shop_name="Import Shop Renamed",
            gmv="20000.00",
            price="30.00",
            creators=[
                {
                    "platformId": "imp-c1",
                    "handle": "importone",
                    "displayName": "Import Uno",
                    "avatarUrl": None,
                    "followerCount": 99,
                    "mainCategory": "Garden",
                    "gmv30d": "12.00",
                },
                {
                    "platformId": "imp-c3",
                    "handle": "importthree",
                    "displayName": "Import Three",
                    "avatarUrl": None,
                    "followerCount": 30,
                    "mainCategory": "Home",
                    "gmv30d": "3.00",
                },
            ],
        ),
    )
    snapshots = {}
    said = {
        "first": "Imported 1 shop (1 new), 2 products, 2 creators.\n",
        "again": "Imported 1 shop, 2 products, 2 creators.\n",
        "changed": "Imported 1 shop, 2 products, 2 creators.\n",
    }

    async def imports():
        for name, path in (("first", good), ("again", good), ("changed", changed)):
            code, out, err = await cli(env, "import", path)
            assert code == 0 and out == said[name], (name, out, err)
            snapshots[name] = await api.query(IMPORTED, as_="shop:imp-s")

    _, migrate = await asyncio.gather(imports(), cli(env, "migrate"))
    assert migrate[:2] == (0, f"Database up to date at {HEAD}.\n"), migrate  # an up-to-date database: a no-op

    # The good file: imported once, the same again changes nothing, changed values update in place.
    first = snapshots["first"]
    shop = first["viewer"]["shop"]
    assert (shop["name"], shop["status"], shop["affiliateGmv30d"]) == ("Import Shop", "ACTIVE", "1500.00")
    assert first["outreachQuota"]["weeklyLimit"] == 50
    assert [(p["platformId"], p["title"], p["price"], p["currency"]) for p in shop["products"]["nodes"]] == [
        ("imp-p1", "Lamp", "25.00", "EUR"),
        ("imp-p2", "Rug", "80.00", "EUR"),
    ]
    creators = {c["platformId"]: c for c in first["creators"]["nodes"]}
    assert set(creators) == {"imp-c1", "imp-c2"}
    assert creators["imp-c2"] == {
        **creators["imp-c2"],
        "handle": "importtwo",
        "displayName": "Import Two",
        "avatarUrl": "https://img.example/two.png",
        "followerCount": 20,
        "mainCategory": "Home",
        "gmv30d": "2.50",
    }
    assert snapshots["again"] == first

    second = snapshots["changed"]
    assert second["viewer"]["shop"]["id"] == shop["id"]
    assert second["viewer"]["shop"]["name"] == "Import Shop Renamed"
    assert second["viewer"]["shop"]["affiliateGmv30d"] == "20000.00" and second["outreachQuota"]["weeklyLimit"] == 200
    assert [(p["id"], p["price"]) for p in second["viewer"]["shop"]["products"]["nodes"]] == [
        (shop["products"]["nodes"][0]["id"], "30.00"),
        (shop["products"]["nodes"][1]["id"], "80.00"),
    ]
    after = {c["platformId"]: c for c in second["creators"]["nodes"]}
    assert set(after) == {"imp-c1", "imp-c2", "imp-c3"}  # an upsert: imp-c2, absent from the file, stays
    assert after["imp-c1"] == {
        **creators["imp-c1"],
        "displayName": "Import Uno",
        "followerCount": 99,
        "mainCategory": "Garden",
        "gmv30d": "12.00",
    }
    assert after["imp-c2"] == creators["imp-c2"]
    assert after["imp-c3"]["id"] not in {c["id"] for c in creators.values()}
    # The world imported before is untouched by the later imports.
    assert (await api.query(VIEWER, as_="creator:c40"))["viewer"]["creator"] == {"platformId": "c40"}


# Minting a token and validating an import file happen before any database work: once, on SQLite.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_cli_token_and_malformed_import(api, database_url, tmp_path):
    await build_world(api.engine)
    env = cli_env(database_url, tmp_path, api.secret)
    async with unchanged(api.engine):
        (token_code, token_out, token_err), (bad_code, bad_out, bad_err) = await asyncio.gather(
            cli(env, "token", "shop:s1", "--ttl", "60"),
            cli(env, "import", write(tmp_path / "malformed.json", malformed_file())),
        )

    # The token: valid for 60 seconds, and accepted by the API as shop s1's seller.
    assert token_code == 0, token_err
    token = token_out.strip()
    claims = jwt.decode(token, api.secret, algorithms=["HS256"])
    assert claims["sub"] == "shop:s1" and claims["exp"] - claims["iat"] == 60
    status, body = await api.post(VIEWER, headers={"Authorization": f"Bearer {token}"})
    assert status == 200 and "errors" not in body, body
    assert body["data"] == {"viewer": {"role": "SELLER", "shop": {"platformId": "s1"}, "creator": None}}

    # The malformed file: refused, naming each bad record, and nothing written (checked above).
    assert bad_code != 0 and bad_out == "", (bad_out, bad_err)
    assert "Traceback" not in bad_err, bad_err
    assert "creators[1].followerCount" in bad_err and "mal-bad" in bad_err, bad_err
    assert "shops[0].products[1].price" in bad_err and "mal-p2" in bad_err, bad_err
    assert "creators[0]" not in bad_err  # the good record is not blamed


def test_import_of_an_unreadable_file_is_refused_without_a_traceback(tmp_path, monkeypatch, capsys):
    """Run in-process (a subprocess per case would be slow): a missing or non-UTF-8 file."""
    import server

    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}")
    monkeypatch.setenv("INBOX_DATA_DIR", str(tmp_path))
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe{}")
    for path, reason in ((tmp_path / "missing.json", "cannot be read"), (binary, "not UTF-8")):
        with pytest.raises(SystemExit) as exit_info:
            server.main(["import", str(path)])
        assert exit_info.value.code != 0
        assert "nothing written" in str(exit_info.value.code) and reason in str(exit_info.value.code)
        assert path.name in str(exit_info.value.code)


def test_token_for_a_bad_subject_is_refused_without_a_traceback(tmp_path, monkeypatch):
    import server

    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}")
    monkeypatch.setenv("INBOX_DATA_DIR", str(tmp_path))
    with pytest.raises(SystemExit) as exit_info:
        server.main(["token", "admin:x"])
    assert "shop:<platformId> or creator:<platformId>" in str(exit_info.value.code)


def test_cli_tokens_live_at_most_the_max_token_lifetime(tmp_path, monkeypatch, capsys):
    """`token` and the welcome banner of `serve` issue tokens the API accepts: at most
    INBOX_MAX_TOKEN_TTL_SECONDS (a day by default), and a longer --ttl is refused, saying why."""
    import server
    from core.config import Settings

    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}")
    monkeypatch.setenv("INBOX_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("INBOX_JWT_SECRET", "cli-secret-" + "z" * 32)

    def lifetimes(text: str) -> list[int]:
        tokens = re.findall(r"ey[\w-]+\.[\w-]+\.[\w-]+", text)  # bare, or in a GraphiQL URL's #token=
        claims = [jwt.decode(token, options={"verify_signature": False}) for token in tokens]
        return [c["exp"] - c["iat"] for c in claims]

    with pytest.raises(SystemExit) as exit_info:
        server.main(["token", "shop:s1", "--ttl", str(7 * 86_400)])
    assert "at most 86400 s" in str(exit_info.value.code) and "INBOX_MAX_TOKEN_TTL_SECONDS" in str(exit_info.value.code)
    server.main(["token", "shop:s1"])
    assert lifetimes(capsys.readouterr().out) == [86_400]
    server._print_welcome(Settings.from_env())
    assert lifetimes(capsys.readouterr().out) == [86_400, 86_400]
    monkeypatch.setenv("INBOX_MAX_TOKEN_TTL_SECONDS", "3600")
    server.main(["token", "creator:c1"])
    assert lifetimes(capsys.readouterr().out) == [3600]
    with pytest.raises(SystemExit):
        server.main(["token", "creator:c1", "--ttl", "3601"])


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_import_summary_names_new_shops_and_status_changes(database_url, tmp_path, monkeypatch, capsys):
    """Run in-process: the sentence `import` prints, for a first import and one that changes a status."""
    import server

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("INBOX_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("REDIS_URL", raising=False)
    shop = {"name": "Sum Shop", "status": "ACTIVE", "affiliateGmv30d": "10.00", "products": []}
    first = {"shops": [{**shop, "platformId": "sum-a"}, {**shop, "platformId": "sum-b"}]}
    second = {
        "shops": [{**shop, "platformId": "sum-a", "status": "SUSPENDED"}, {**shop, "platformId": "sum-c"}],
        "creators": import_file()["creators"][:1],
    }
    server.main(["import", write(tmp_path / "first.json", first)])
    server.main(["import", write(tmp_path / "second.json", second)])
    assert capsys.readouterr().out.splitlines() == [
        "Imported 2 shops (2 new), 0 products, 0 creators.",
        "Imported 2 shops (1 new), 0 products, 1 creator; 1 shop changed status.",
    ]


def serve_env(tmp_path: Path, **extra: str) -> dict:
    """An embedded SQLite server's environment, without demo seeding work beyond migrating."""
    env = {
        key: value
        for key, value in os.environ.items()
        if (not key.startswith("INBOX_") or key == "INBOX_FAST_PATH") and key not in ("DATABASE_URL", "REDIS_URL")
    }
    # No metrics listener: servers of several tests run side by side.
    env.update(INBOX_DATA_DIR=str(tmp_path / "serve-data"), INBOX_METRICS_PORT="0", PYTHONUNBUFFERED="1", **extra)
    return env


async def healthy(host: str, port: int, process, timeout: float = 60) -> bool:
    """Poll /healthz at host:port until it answers, the process ends, or `timeout` passes."""
    deadline = asyncio.get_running_loop().time() + timeout
    async with aiohttp.ClientSession() as session:
        while process.returncode is None and asyncio.get_running_loop().time() < deadline:
            try:
                async with session.get(f"http://{host}:{port}/healthz") as response:
                    return response.status == 200
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.2)
    return False


async def test_listen_address_flags_override_the_environment(tmp_path):
    """`server.py --port P` and `server.py serve --host H --port P` listen there, not on INBOX_HOST / INBOX_PORT
    (127.0.0.9 is loopback too)."""
    env_port, flag_port, serve_port = free_port(), free_port(), free_port()
    commands = (
        ["--port", str(flag_port), "--no-demo"],
        ["serve", "--host", "127.0.0.1", "--port", str(serve_port), "--no-demo"],
    )
    processes = []
    for n, args in enumerate(commands):
        env = serve_env(tmp_path / str(n), INBOX_HOST="127.0.0.9", INBOX_PORT=str(env_port))
        processes.append(
            await asyncio.create_subprocess_exec(
                sys.executable,
                "server.py",
                *args,
                cwd=ROOT,
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        )
    try:
        assert await asyncio.gather(
            healthy("127.0.0.9", flag_port, processes[0]), healthy("127.0.0.1", serve_port, processes[1])
        ) == [True, True]
    finally:
        for process in processes:
            if process.returncode is None:
                process.terminate()
        outputs = [await process.communicate() for process in processes]
    banners = [out.decode() for out, _ in outputs]
    assert f"http://127.0.0.1:{serve_port}/graphql#token=" in banners[1], outputs[1]
    assert f"http://127.0.0.9:{flag_port}/graphql#token=" in banners[0], outputs[0]  # --port alone keeps INBOX_HOST
    with socket.socket() as probe:  # nobody took INBOX_PORT
        probe.bind(("127.0.0.9", env_port))


async def test_an_address_in_use_is_one_line_and_exit_2(tmp_path):
    """Another program holds the port: one line on stderr, exit status 2, no banner, no traceback;
    with --workers too (which binds with SO_REUSEPORT)."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = serve_env(tmp_path, REDIS_URL="redis://127.0.0.1:1/0")  # never reached
        results = await asyncio.gather(
            cli({**env, "INBOX_PORT": str(port)}, "serve"), cli(env, "serve", "--port", str(port), "--workers", "2")
        )
    for result in results:
        assert result == (2, "", f"cannot listen on 127.0.0.1:{port}: address already in use\n"), result


async def test_migrate_says_what_it_did(database_url, tmp_path):
    """From 0001: `migrated from 0001 to <head>`, then `up to date at <head>`; Alembic's log only with -v."""
    await asyncio.to_thread(command.downgrade, alembic_config(database_url), "0001")
    env = cli_env(database_url, tmp_path, "unused-secret-" + "x" * 32)
    assert await cli(env, "migrate") == (0, f"Database migrated from 0001 to {HEAD}.\n", "")
    code, out, err = await cli(env, "-v", "migrate")
    assert (code, out) == (0, f"Database up to date at {HEAD}.\n"), (out, err)
    assert "Context impl" in err, err


SEEDED = re.compile(
    r"Seeded 7 shops, 53 products, 2,000 creators, 1,500 conversations, ([\d,]+) messages, "
    r"\d+ collaborations, \d+ sample requests, \d+ blocks and \d+ outreach units in \d+\.\d s\.\n"
)


async def test_seed_demo_migrates_refuses_data_and_resets(engine, database_url, tmp_path):
    """On an unmigrated database seed-demo migrates and seeds; again it refuses in one line and changes
    nothing; with --reset it deletes everything (also what it did not seed) and seeds anew."""
    await asyncio.to_thread(command.downgrade, alembic_config(database_url), "base")
    env = cli_env(database_url, tmp_path, "unused-secret-" + "x" * 32)
    code, out, err = await cli(env, "seed-demo")
    assert code == 0 and SEEDED.fullmatch(out), (out, err)
    assert "Running upgrade" not in err and "Traceback" not in err, err
    messages = int(SEEDED.fullmatch(out)[1].replace(",", ""))
    await import_platform_data(
        engine, {"shops": [{"platformId": "extra", "name": "Extra", "status": "ACTIVE", "affiliateGmv30d": "1.00"}]}
    )

    async def counts():
        async with engine.connect() as conn:
            return [await conn.scalar(text(f"SELECT count(*) FROM {table}")) for table in ("shop", "message")]

    assert await counts() == [8, messages]
    refusal = (
        "seed-demo refused: the database already holds shops or creators; "
        "`seed-demo --reset` deletes all its data first"
    )
    assert await cli(env, "seed-demo") == (2, "", refusal + "\n")
    assert await counts() == [8, messages]

    code, out, err = await cli(env, "seed-demo", "--reset")
    assert code == 0 and SEEDED.fullmatch(out) and SEEDED.fullmatch(out)[1] == f"{messages:,}", (out, err)
    assert await counts() == [7, messages]
