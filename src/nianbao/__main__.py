"""`python -m nianbao …`: the same as the `nianbao` command."""

from nianbao.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
