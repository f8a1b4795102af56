"""Review changes where they are made: before a commit (the hook) and in CI.

- `run_review(ws, config, ReviewOptions(Target("staged")))` → `ReviewResult` (engine.py):
  the static checks (checks/) against memory's conventions (conventions.py), then an
  optional model review (llm.py).
- `render_text` / `render_json` / `render_sarif` (output.py).
- `dismiss`, `rule_confidence` (feedback.py): review feedback, shared through git.
- `install_hook` / `uninstall_hook` (hook.py): the chaining pre-commit hook, on the script
  template and installer every codemem hook shares (the commit-msg hook: commit_msg.py).

Importing this package is cheap; nothing here loads LanceDB or a model SDK.
"""
