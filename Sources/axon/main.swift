import Axon
print(AxonVersion.string)
