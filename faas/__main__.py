from faas.cli.main import main

main()
