import Axon
print(Tensor(zeros: [2]).shape)
