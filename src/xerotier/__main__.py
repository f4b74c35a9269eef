from xerotier.cli import main

main()
