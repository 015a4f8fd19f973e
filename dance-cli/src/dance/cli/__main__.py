from dance.cli.app import main

main()
