import AxonCLI

AxonProgram.main()
