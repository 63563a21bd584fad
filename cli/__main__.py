"""`python -m cli` runs the same entry point as the `secrets` script."""

from cli.app import main

if __name__ == "__main__":
    main()
