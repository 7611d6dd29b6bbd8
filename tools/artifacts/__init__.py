"""The artifact that ships is the artifact tested (`make test-artifacts`).

`make sam-build` builds the arm64 `bootstrap` binaries (one per function)
that `sam deploy` uploads. `python -m tools.artifacts` runs each of them as
built, under qemu-aarch64, behind a Lambda Runtime API of its own
(runtime_api.py), with the environment CloudFormation would give it from
template.yaml (environment.py), against moto for DynamoDB and KMS; then
sends them API Gateway REST events and, to the publish function, a DynamoDB
stream batch (scenario.py), and checks their answers and their metric
records.

- runtime_api.py: the Runtime API a function polls (next, response, error,
  init/error).
- environment.py: template.yaml's environment of each function, its
  intrinsics resolved with local values, plus what Lambda itself sets.
- signing.py: a fresh ES256 key pair per run, its public key for the
  template's JwtPublicKeyPem and its tokens.
- functions.py: a function process under qemu, its output and metric records.
- scenario.py: the requests, and what each answer must be.
"""
