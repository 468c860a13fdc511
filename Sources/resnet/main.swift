import ResNetCLI

ResNetCommand.main()
