"""`make deploy STAGE=...`: each stage deploys its own stack with its own
parameters and the issuer's settings, composed into one list (sam deploy
would otherwise drop the stage's parameters for the command line's)."""

from __future__ import annotations

import tomllib
import unittest

from tools import deploy

CONFIG = tomllib.loads(deploy.SAMCONFIG.read_text())
ISSUER = {"JWT_ISSUER": "https://issuer.example", "JWT_JWKS_URL": "https://issuer.example/jwks.json"}


class Stages(unittest.TestCase):
    def test_staging_and_prod_are_stacks_of_their_own_with_their_own_tags(self) -> None:
        names = set()
        for stage in ("staging", "prod"):
            names.add(CONFIG[stage]["global"]["parameters"]["stack_name"])
            parameters = CONFIG[stage]["deploy"]["parameters"]
            self.assertIn(f'stage="{stage}"', parameters["tags"])
            self.assertEqual(parameters["capabilities"], "CAPABILITY_NAMED_IAM")
            self.assertLessEqual(len(CONFIG[stage]["global"]["parameters"]["stack_name"]), 41)
        names.add(CONFIG["default"]["global"]["parameters"]["stack_name"])
        self.assertEqual(len(names), 3, names)

    def test_the_stages_parameters_survive_the_issuers(self) -> None:
        composed = deploy.overrides(CONFIG, "prod", ISSUER)
        stage_names = {word.split("=")[0] for word in deploy.stage_overrides(CONFIG, "prod")}
        self.assertTrue(stage_names, "prod sets parameters of its own")
        self.assertTrue(stage_names <= {word.split("=")[0] for word in composed})
        self.assertIn("JwtIssuer=https://issuer.example", composed)
        self.assertIn("JwtJwksUrl=https://issuer.example/jwks.json", composed)

    def test_later_settings_win_and_bad_ones_are_refused(self) -> None:
        environ = {**ISSUER, "PARAMETER_OVERRIDES": "LogRetentionDays=7 JwtAudience=other"}
        composed = deploy.overrides(CONFIG, "staging", {**environ, "JWT_AUDIENCE": "first"})
        self.assertIn("LogRetentionDays=7", composed)
        self.assertIn("JwtAudience=other", composed)
        self.assertEqual(sum(word.startswith("LogRetentionDays=") for word in composed), 1)
        for bad in ({}, {**ISSUER, "PARAMETER_OVERRIDES": "NoValue"}):
            with self.assertRaises(ValueError):
                deploy.overrides(CONFIG, "staging", bad)
        with self.assertRaises(ValueError):
            deploy.overrides(CONFIG, "nowhere", ISSUER)

    def test_build_and_deploy_run_in_the_stages_config_environment(self) -> None:
        ran: list[list[str]] = []

        def run(command: list[str]) -> int:
            ran.append(command)
            return 0

        self.assertEqual(deploy.main(["staging"], ISSUER, run), 0)
        self.assertEqual(
            [command[:4] for command in ran],
            [["sam", "build", "--config-env", "staging"], ["sam", "deploy", "--config-env", "staging"]],
        )
        self.assertIn("LogRetentionDays=14", ran[1])
        self.assertEqual(deploy.main(["staging"], {}, run), 2, "no issuer: nothing runs")
        self.assertEqual(len(ran), 2)
        # The pipeline's prebuilt artifact: deploy only.
        ran.clear()
        self.assertEqual(deploy.main(["prod", "--built"], ISSUER, run), 0)
        self.assertEqual([command[:4] for command in ran], [["sam", "deploy", "--config-env", "prod"]])

    def test_the_pipelines_bucket_and_role_when_given(self) -> None:
        ran: list[list[str]] = []

        def run(command: list[str]) -> int:
            ran.append(command)
            return 0

        pipeline = {"ARTIFACT_BUCKET": "builds", "CLOUDFORMATION_ROLE_ARN": "arn:aws:iam::1:role/cfn"}
        self.assertEqual(deploy.main(["staging", "--built"], {**ISSUER, **pipeline}, run), 0)
        command = " ".join(ran[0])
        self.assertIn(
            "--s3-bucket builds --s3-prefix cortex-secrets-staging --role-arn arn:aws:iam::1:role/cfn", command
        )
        self.assertNotIn("--resolve-s3", command)
        # By hand, without them: sam's managed bucket, the caller's rights.
        self.assertEqual(deploy.main(["staging", "--built"], ISSUER, run), 0)
        self.assertIn("--resolve-s3", ran[1])
        self.assertNotIn("--role-arn", ran[1])


if __name__ == "__main__":
    unittest.main()
