"""`python -m envsecrets` runs the same entry point as the `secrets` script."""

from envsecrets.app import main

if __name__ == "__main__":
    main()
