"""The local stack: moto standing in for DynamoDB and KMS (emulator), the
functions under `cargo lambda watch`, and a stand-in for API Gateway in front
of its router (gateway); devstack starts and stops them together."""
