"""watsonx.ai, SageMaker and Databricks deployments read from a LiteLLM config and LiteLLM's variables."""

from __future__ import annotations

import pytest

from adapters.config import load_config
from bootstrap.upstreams import adapter_of
from domain.deployments import Deployment
from domain.errors import ConfigurationError


def deployment(model: str, environ: dict[str, str], **params: object) -> Deployment:
    config = load_config(
        {"model_list": [{"model_name": "m", "litellm_params": {"model": model, **params}}]}, environ
    )
    (found,) = config.deployments
    return found


def test_a_watsonx_deployment_takes_litellms_variables() -> None:
    environ = {
        "WATSONX_URL": "https://eu-de.ml.cloud.ibm.com",
        "WATSONX_APIKEY": "ibm-key",
        "WATSONX_PROJECT_ID": "project-1",
        "WATSONX_IAM_URL": "https://iam.test.cloud.ibm.com/identity/token",
    }

    found = deployment("watsonx/ibm/granite-3-8b-instruct", environ)

    assert (found.provider, found.upstream_model) == ("watsonx", "ibm/granite-3-8b-instruct")
    assert found.api_base == "https://eu-de.ml.cloud.ibm.com"
    assert found.credentials.api_key is not None and found.credentials.api_key.value == "ibm-key"
    assert found.credentials.extra["project_id"] == "project-1"
    assert found.credentials.extra["iam_url"] == "https://iam.test.cloud.ibm.com/identity/token"
    assert adapter_of(found).__name__ == "WatsonxProvider"


@pytest.mark.parametrize("model", ["watsonx/ibm/granite-3-8b-instruct", "databricks/my-endpoint"])
def test_watsonx_and_databricks_need_a_base_url_at_startup(model: str) -> None:
    with pytest.raises(ConfigurationError, match="api_base: is required"):
        deployment(model, {})


def test_a_databricks_deployment_takes_a_token_or_oauth_credentials_from_the_environment() -> None:
    environ = {
        "DATABRICKS_HOST": "https://adb-1.2.azuredatabricks.net",
        "DATABRICKS_CLIENT_ID": "sp-1",
        "DATABRICKS_CLIENT_SECRET": "secret-1",
    }

    found = deployment("databricks/databricks-meta-llama-3-3-70b-instruct", environ)

    assert found.api_base == "https://adb-1.2.azuredatabricks.net"
    assert found.credentials.api_key is None
    assert (found.credentials.extra["client_id"], found.credentials.extra["client_secret"]) == (
        "sp-1",
        "secret-1",
    )
    assert adapter_of(found).__name__ == "DatabricksProvider"


@pytest.mark.parametrize(
    ("model", "adapter"), [("sagemaker", "SageMakerProvider"), ("sagemaker_chat", "SageMakerChatProvider")]
)
def test_sagemaker_deployments_take_the_aws_variables(model: str, adapter: str) -> None:
    environ = {"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_REGION": "eu-west-1"}

    found = deployment(f"{model}/my-endpoint", environ, model_id="component-1")

    assert found.upstream_model == "my-endpoint"
    assert found.credentials.extra == {
        "aws_access_key_id": "AKID",
        "aws_secret_access_key": "secret",
        "aws_region_name": "eu-west-1",
        "model_id": "component-1",
    }
    assert adapter_of(found).__name__ == adapter
