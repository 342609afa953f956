from pitchlens.runtime.cli import main

main()
