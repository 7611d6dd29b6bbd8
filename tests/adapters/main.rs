//! The DynamoDB and KMS adapters against a fresh emulator (moto_server),
//! started for this run by `make test`.

mod deleted;
mod dynamo;
mod encryption;
mod events;
mod harness;
mod iam;
mod kms;
mod logs;
mod pages;
mod republish;
mod writes;
