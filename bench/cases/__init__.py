"""Before/after case tables of issue 13 (docs/reliability.md): each runs
`python -m prism_cli.cli` on two checkouts (``git worktree add``) and prints markdown.
"""
