"""``python -m syndicate`` runs the command line."""

from syndicate.cli import main

if __name__ == "__main__":
    main()
