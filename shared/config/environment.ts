/** The process environment as the settings are read from it (app settings in Azure, local.settings.json under Core Tools). */
export type Env = Record<string, string | undefined>;

/** App settings set to an empty string are treated as unset, as the portal leaves them. */
export function readSetting(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}
