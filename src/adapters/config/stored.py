"""Deployments stored through the management API, parsed exactly as the config file's entries are."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError

from adapters.config.deployments import Defaults, build_deployment
from adapters.config.diagnostics import Report, from_validation_error
from adapters.config.environment import resolve
from adapters.config.schema import ModelEntry
from domain.deployments import Deployment, DeploymentRecord
from domain.errors import BadRequestError, ConfigurationError

_AT = "model_list[0]."


def deployment_from_record(
    record: DeploymentRecord, defaults: Defaults, environ: Mapping[str, str]
) -> Deployment:
    """The deployment a stored record describes; a BadRequestError naming the field (`litellm_params.model`)
    when it describes none."""
    raw = {
        "model_name": record.model_name,
        "litellm_params": dict(record.litellm_params),
        "model_info": {**record.model_info, "id": record.model_id},
    }
    report = Report()
    try:
        entry = ModelEntry.model_validate(resolve(raw, environ, report, "model_list", 0))
        deployment = build_deployment(entry, raw, index=0, defaults=defaults, environ=environ, report=report)
    except ValidationError as exc:
        raise _bad_request(from_validation_error(exc)) from None
    except ConfigurationError as exc:
        raise _bad_request(exc) from None
    if deployment is None:
        raise BadRequestError(
            "; ".join(report.warnings) or "This deployment cannot be served.", param="model_info.mode"
        )
    return deployment


def _bad_request(exc: ConfigurationError) -> BadRequestError:
    path = exc.path.removeprefix(_AT) if exc.path.startswith(_AT) else exc.path
    return BadRequestError(f"{path}: {exc.message}" if path else exc.message, param=path or None)
