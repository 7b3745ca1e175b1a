import { ConfigError, parseConfig } from "@gateway/common";
import { ModelGroups } from "../../src/config/model-groups.js";
import { checkDeployments, SUPPORTED_PROVIDERS } from "../../src/providers/index.js";

/** Why a config of one deployment of `model` with the other litellm_params `params` (YAML) is refused at load; undefined when it loads. */
export function loadRefusal(model: string, params: string): string | undefined {
  try {
    checkDeployments(ModelGroups.fromConfig(parseConfig(`model_list:\n  - { model_name: m, litellm_params: { model: "${model}", ${params} } }\n`), SUPPORTED_PROVIDERS));
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  return undefined;
}
