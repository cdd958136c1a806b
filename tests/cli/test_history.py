"""`deskseek history` as a user meets it: readable listings, transcripts, exports, and one-line errors."""

from __future__ import annotations

import argparse
import json

import pytest

from deskseek import paths
from deskseek.chat.history import History
from deskseek.cli.history import add_commands
from deskseek.errors import DeskseekError, NotFound, UsageError


def history(capsys, *argv: str):
    parser = argparse.ArgumentParser(prog="deskseek")
    add_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["history", *argv])
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def saved() -> dict[str, int]:
    """Two chats in the user's history: one finished with a thought, one whose reply was cut off."""
    with History() as h:
        sky = h.new_conversation("r1-distill-qwen-7b:Q4_K_M", {"temperature": 0.6})
        h.add_message(sky, "user", "Why is the sky blue?")
        reply = h.start_reply(sky, "r1-distill-qwen-7b:Q4_K_M")
        reply.add_reasoning("Light scatters; shorter wavelengths scatter more.")
        reply.set_reasoning_seconds(12.4)
        reply.add_answer("Rayleigh scattering makes blue light fill the sky.")
        reply.finish("complete", "stop", {"completion_tokens": 42})
        cut = h.new_conversation("starter", title="Cut off")
        h.add_message(cut, "user", "Write a long poem")
        h.start_reply(cut, "starter").add_answer("Roses are")
    return {"sky": sky, "cut": cut}


def test_list_on_a_fresh_install_creates_nothing(capsys, home):
    code, out, _ = history(capsys, "list")
    assert code == 0 and out.startswith("no saved conversations yet")
    code, out, _ = history(capsys, "list", "--json")
    assert code == 0 and json.loads(out) == []
    assert not paths.history_db().exists()


def test_list_table(capsys, saved):
    code, out, _ = history(capsys, "ls")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["ID", "UPDATED", "MODEL", "MESSAGES", "TITLE"]
    assert lines[1].split()[0] == str(saved["cut"]) and lines[1].split()[-2:] == ["Cut", "off"]
    assert "starter" in lines[1] and lines[1].split()[4] == "2"
    assert "r1-distill-qwen-7b:Q4_K_M" in lines[2] and lines[2].endswith("Why is the sky blue?")


def test_list_json(capsys, saved):
    code, out, _ = history(capsys, "list", "--json")
    rows = json.loads(out)
    assert code == 0 and [row["id"] for row in rows] == [saved["cut"], saved["sky"]]
    assert set(rows[0]) == {"id", "title", "model", "created_at", "updated_at", "messages"}
    assert (rows[1]["title"], rows[1]["model"], rows[1]["messages"]) == (
        "Why is the sky blue?", "r1-distill-qwen-7b:Q4_K_M", 2)


def test_show_prints_the_markdown_transcript(capsys, saved):
    code, out, _ = history(capsys, "show", str(saved["sky"]))
    assert code == 0
    assert out.startswith("# Why is the sky blue?\n\n- Model: `r1-distill-qwen-7b:Q4_K_M`\n")
    assert "## You\n\nWhy is the sky blue?\n\n## Assistant\n\n" in out
    assert ("<details><summary>Thought for 12.4 s</summary>\n\n"
            "Light scatters; shorter wavelengths scatter more.\n\n</details>\n\n"
            "Rayleigh scattering makes blue light fill the sky.\n") in out
    assert out.endswith("fill the sky.\n")


def test_a_cut_off_reply_is_marked_in_the_transcript(capsys, saved):
    # The fixture closed its History mid-reply: the buffered words were saved, the reply marked cut off.
    code, out, _ = history(capsys, "show", str(saved["cut"]))
    assert code == 0 and out.startswith("# Cut off\n")
    assert out.endswith("## Assistant\n\nRoses are\n\n*[interrupted: deskseek ended before this reply finished]*\n")


def test_export_json_to_stdout_is_the_stable_shape(capsys, saved):
    code, out, _ = history(capsys, "export", str(saved["sky"]), "--format", "json")
    data = json.loads(out)
    assert code == 0 and list(data) == ["id", "title", "model", "settings", "created_at", "messages", "server"]
    assert data["server"] is None  # written on this machine
    assert (data["id"], data["settings"]) == (saved["sky"], {"temperature": 0.6})
    user, assistant = data["messages"]
    assert list(assistant) == ["role", "content", "reasoning", "state", "model", "stats", "finish_reason",
                               "reasoning_seconds", "created_at", "server"]
    assert (user["role"], user["content"], user["state"]) == ("user", "Why is the sky blue?", "complete")
    assert assistant == {
        "role": "assistant", "content": "Rayleigh scattering makes blue light fill the sky.",
        "reasoning": "Light scatters; shorter wavelengths scatter more.", "state": "complete",
        "model": "r1-distill-qwen-7b:Q4_K_M", "stats": {"completion_tokens": 42}, "finish_reason": "stop",
        "reasoning_seconds": 12.4, "created_at": assistant["created_at"], "server": None,
    }


def test_export_to_a_file(capsys, saved, tmp_path):
    target = tmp_path / "sky.md"
    code, out, _ = history(capsys, "export", str(saved["sky"]), "-o", str(target))
    assert code == 0 and out == f"exported conversation {saved['sky']} to {target}\n"
    assert target.read_text(encoding="utf-8").startswith("# Why is the sky blue?\n")
    target = tmp_path / "sky.json"
    history(capsys, "export", str(saved["sky"]), "--format", "json", "--output", str(target))
    assert json.loads(target.read_text(encoding="utf-8"))["title"] == "Why is the sky blue?"


def test_export_never_overwrites_a_file_without_force(capsys, saved, tmp_path):
    target = tmp_path / "notes.md"
    target.write_text("my own notes", encoding="utf-8")
    with pytest.raises(UsageError, match=r"notes\.md already exists; --force replaces it"):
        history(capsys, "export", str(saved["sky"]), "-o", str(target))
    assert target.read_text(encoding="utf-8") == "my own notes"
    code, _, _ = history(capsys, "export", str(saved["sky"]), "-o", str(target), "--force")
    assert code == 0 and target.read_text(encoding="utf-8").startswith("# Why is the sky blue?")
    assert not list(tmp_path.glob(".notes.md.*"))  # no temporary left beside it


def test_export_to_a_full_disk_leaves_the_old_file_whole(capsys, saved, tmp_path):
    target = tmp_path / "sky.md"
    target.write_text("before", encoding="utf-8")
    import os

    os.symlink("/dev/full", tmp_path / f".sky.md.{os.getpid()}.tmp")  # the temporary's writes hit ENOSPC
    with pytest.raises(DeskseekError, match="^cannot write .*sky.md: No space left on device$"):
        history(capsys, "export", str(saved["sky"]), "-o", str(target), "--force")
    assert target.read_text(encoding="utf-8") == "before"


def test_export_to_an_unwritable_place_is_one_line(capsys, saved, tmp_path):
    with pytest.raises(DeskseekError, match="^cannot write .*missing/sky.md: No such file or directory$"):
        history(capsys, "export", str(saved["sky"]), "-o", str(tmp_path / "missing" / "sky.md"))


def test_rm(capsys, saved):
    code, out, _ = history(capsys, "rm", str(saved["sky"]))
    assert code == 0 and out == f"deleted conversation {saved['sky']} (Why is the sky blue?)\n"
    _, out, _ = history(capsys, "list", "--json")
    assert [row["id"] for row in json.loads(out)] == [saved["cut"]]
    with pytest.raises(NotFound):
        history(capsys, "show", str(saved["sky"]))


@pytest.mark.parametrize("action", [["show"], ["export"], ["export", "--format", "json"], ["rm"]])
def test_unknown_id_is_one_line(capsys, saved, action):
    with pytest.raises(NotFound) as caught:
        history(capsys, *action, "99")
    assert str(caught.value) == "no conversation with id 99 (`deskseek history list` shows them)"


@pytest.mark.parametrize("action", ["show", "export", "rm"])
def test_unknown_id_on_a_fresh_install_creates_nothing(capsys, action):
    with pytest.raises(NotFound, match="no conversation with id 3 .no chats have been saved yet."):
        history(capsys, action, "3")
    assert not paths.history_db().exists()


@pytest.mark.parametrize("argv", [[], ["show", "abc"], ["rm", "0"], ["export", "1", "--format", "pdf"],
                                  ["show", "9223372036854775808"], ["rm", "99999999999999999999"]])
def test_bad_arguments_are_usage_errors(capsys, argv):
    with pytest.raises(SystemExit) as caught:
        history(capsys, *argv)
    assert caught.value.code == 2


# --- search -----------------------------------------------------------------------------------------------


def test_search_rows_newest_first_with_the_match_marked(capsys, saved):
    with History() as h:
        korean = h.new_conversation("r1")
        h.add_message(korean, "user", "바다에 가고 싶다: the SKY and the sea")
    code, out, _ = history(capsys, "search", "sky")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 3
    assert lines[0].startswith(f"{korean:>4}  ") and " user       바다에 가고 싶다: the SKY and the sea │ " in lines[0]
    assert lines[0].endswith("바다에 가고 싶다: the [SKY] and the sea")
    assert " assistant  Why is the sky blue? │ Rayleigh scattering makes blue light fill the [sky]." in lines[1]
    assert lines[2].endswith("Why is the sky blue? │ Why is the [sky] blue?")
    code, out, _ = history(capsys, "search", "바다")
    assert out.splitlines()[0].endswith("[바다]에 가고 싶다: the SKY and the sea")


def test_search_json_rows(capsys, saved):
    code, out, _ = history(capsys, "search", "scatter", "--json")
    rows = json.loads(out)
    with History() as h:
        reply = h.conversation(saved["sky"]).messages[1]
    assert code == 0 and rows == [
        {"conversation_id": saved["sky"], "message_id": reply.id, "role": "assistant",
         "snippet": "Rayleigh scattering makes blue light fill the sky.", "updated_at": reply.updated_at},
        {"conversation_id": saved["sky"], "message_id": reply.id, "role": "thought",
         "snippet": "Light scatters; shorter wavelengths scatter more.", "updated_at": reply.updated_at},
    ][:: 1 if rows[0]["role"] == "assistant" else -1]  # two lines of one reply: the one written last first
    code, out, _ = history(capsys, "search", "scatter", "--json", "--limit", "1")
    assert len(json.loads(out)) == 1


def test_search_finds_nothing_without_creating_the_history(capsys, home):
    code, out, _ = history(capsys, "search", "anything")
    assert code == 0 and out == "nothing found for 'anything'\n"
    code, out, _ = history(capsys, "search", "anything", "--json")
    assert json.loads(out) == [] and not paths.history_db().exists()


@pytest.mark.parametrize("query", ['"', "*", "-x", "AND", "NEAR(", "a OR b", "%", "'"])
def test_search_takes_fts_syntax_literally(capsys, saved, query):
    code, out, _ = history(capsys, "search", "--json", "--", query)
    assert code == 0 and isinstance(json.loads(out), list)


@pytest.mark.parametrize("limit", ["0", "-1", "many"])
def test_search_limit_must_be_positive(capsys, saved, limit):
    with pytest.raises(SystemExit) as caught:
        history(capsys, "search", "sky", "--limit", limit)
    assert caught.value.code == 2


def test_search_on_a_terminal_highlights_instead_of_brackets(saved):
    """A real process on a pseudo-terminal: the match in bold reverse video, no brackets."""
    import os
    import pty
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT

    main, child = pty.openpty()
    env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.run([sys.executable, "-m", "deskseek.cli", "history", "search", "sky blue"], cwd=REPO_ROOT,
                             env=env, stdin=child, stdout=child, stderr=subprocess.PIPE, timeout=60)
    os.close(child)
    out = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(main)
    text = out.decode()
    assert process.returncode == 0, process.stderr
    assert "\x1b[1;7msky\x1b[0m \x1b[1;7mblue\x1b[0m" in text and "[sky]" not in text


# --- export --all -----------------------------------------------------------------------------------------


def test_export_all_writes_one_safe_sorted_file_each(capsys, saved, tmp_path):
    with History() as h:
        odd = h.new_conversation("r1", title="../../etc/passwd: 바다 *?<>|\\ 日本")
        h.add_message(odd, "user", "hi")
        h.new_conversation("r1")  # no title yet
    folder = tmp_path / "out" / "chats"
    code, out, _ = history(capsys, "export", "--all", str(folder))
    assert code == 0 and out == f"exported 4 conversations to {folder}\n"
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"{saved['sky']:06d}-why-is-the-sky-blue.md", f"{saved['cut']:06d}-cut-off.md",
                     f"{odd:06d}-etc-passwd-바다-日本.md", f"{odd + 1:06d}-untitled.md"]
    assert (folder / names[0]).read_text(encoding="utf-8") == _export_text(capsys, saved["sky"], "md")
    code, out, _ = history(capsys, "export", "--all", str(folder), "--format", "json")
    assert json.loads((folder / names[1].replace(".md", ".json")).read_text(encoding="utf-8"))["title"] == "Cut off"


def _export_text(capsys, conversation_id: int, fmt: str) -> str:
    _, out, _ = history(capsys, "export", str(conversation_id), "--format", fmt)
    return out


def test_export_all_refuses_to_overwrite_and_writes_nothing(capsys, saved, tmp_path):
    folder = tmp_path / "chats"
    folder.mkdir()
    mine = folder / f"{saved['cut']:06d}-cut-off.md"
    mine.write_text("my notes", encoding="utf-8")
    with pytest.raises(UsageError, match=r"^.*cut-off\.md already exist; --force replaces them$"):
        history(capsys, "export", "--all", str(folder))
    assert [p.name for p in folder.iterdir()] == [mine.name] and mine.read_text(encoding="utf-8") == "my notes"
    code, _, _ = history(capsys, "export", "--all", str(folder), "--force")
    assert code == 0 and mine.read_text(encoding="utf-8").startswith("# Cut off") and len(list(folder.iterdir())) == 2


@pytest.mark.parametrize("argv, message", [
    (["export", "--all", "DIR", "1"], "without an ID or --output"),
    (["export", "--all", "DIR", "-o", "x.md"], "without an ID or --output"),
    (["export"], "give the ID of a conversation to export"),
])
def test_export_all_argument_mistakes_are_one_line(capsys, saved, argv, message):
    with pytest.raises(UsageError, match=message):
        history(capsys, *argv)


def test_export_all_into_a_file_or_with_nothing_saved(capsys, home, tmp_path):
    code, out, _ = history(capsys, "export", "--all", str(tmp_path / "none"))
    assert code == 0 and out == "no saved conversations to export\n" and not (tmp_path / "none").exists()
    with History() as h:
        h.new_conversation("r1", title="x")
    (tmp_path / "file").write_text("", encoding="utf-8")
    with pytest.raises(UsageError, match="is a file, not a folder"):
        history(capsys, "export", "--all", str(tmp_path / "file"))
