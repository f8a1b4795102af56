from codemem.cli import main

if __name__ == "__main__":  # worker processes re-import this module; only run the CLI once
    main()
