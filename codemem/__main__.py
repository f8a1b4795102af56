from codemem.cli import main

main()
