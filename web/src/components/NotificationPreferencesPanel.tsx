// How you want to be told: channels per kind (the portal's bell always has every message),
// the e-mail address, a Slack-compatible webhook URL, and the reminder minutes.
import { useEffect, useState, type FormEvent } from "react";
import { api } from "../api/client";
import type { NotificationPreferences } from "../api/types";
import { CHANNELS, hasChannel, KINDS, parseLeadMinutes, toggleChannel } from "../lib/notifications";
import { useLoad } from "../lib/useLoad";
import { ErrorNote } from "./ErrorNote";
import { Field } from "./Field";

export function NotificationPreferencesPanel() {
  const loaded = useLoad(() => api.notificationPreferences(), []);
  const [prefs, setPrefs] = useState<NotificationPreferences | null>(null);
  const [leads, setLeads] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);

  useEffect(() => {
    if (!loaded.data) return;
    setPrefs(loaded.data);
    setLeads(loaded.data.lead_minutes.join(", "));
  }, [loaded.data]);

  const change = (update: Partial<NotificationPreferences>) => {
    setSaved(false);
    setPrefs((p) => (p ? { ...p, ...update } : p));
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!prefs) return;
    const minutes = parseLeadMinutes(leads);
    if (typeof minutes === "string") {
      setError(new Error(`Reminders: ${minutes}`));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const next = await api.saveNotificationPreferences({
        email: prefs.email || null,
        webhook_url: prefs.webhook_url || null,
        channels: prefs.channels,
        lead_minutes: minutes,
      });
      setPrefs(next);
      setLeads(next.lead_minutes.join(", "));
      setSaved(true);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card notification-prefs" aria-labelledby="prefs-title">
      <h2 id="prefs-title">Notifications</h2>
      <p>
        Every message appears under the bell at the top. Choose which ones also go by e-mail or to a webhook (Slack or
        any receiver of Slack-compatible JSON).
      </p>
      <ErrorNote error={loaded.error} />
      {prefs && (
        <form onSubmit={(e) => void submit(e)} noValidate>
          <Field id="prefs-email" label="E-mail address">
            <input
              id="prefs-email"
              type="email"
              value={prefs.email ?? ""}
              onChange={(e) => change({ email: e.target.value })}
            />
          </Field>
          {!prefs.email_available && <p className="muted">This installation does not send e-mail yet.</p>}
          <Field id="prefs-webhook" label="Webhook URL">
            <input
              id="prefs-webhook"
              type="url"
              placeholder="https://hooks.slack.com/services/…"
              value={prefs.webhook_url ?? ""}
              onChange={(e) => change({ webhook_url: e.target.value })}
            />
          </Field>
          <Field id="prefs-leads" label="Reminders (minutes before the end; empty: none)">
            <input
              id="prefs-leads"
              inputMode="numeric"
              value={leads}
              onChange={(e) => {
                setSaved(false);
                setLeads(e.target.value);
              }}
            />
          </Field>
          <table className="prefs-table">
            <caption>Channels per message</caption>
            <thead>
              <tr>
                <th scope="col">Message</th>
                {CHANNELS.map((c) => (
                  <th scope="col" key={c.channel}>
                    {c.label}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {KINDS.map((k) => (
                <tr key={k.kind}>
                  <th scope="row">{k.label}</th>
                  {CHANNELS.map((c) => (
                    <td key={c.channel}>
                      <input
                        type="checkbox"
                        aria-label={`${k.label} by ${c.label}`}
                        checked={hasChannel(prefs.channels, k.kind, c.channel)}
                        onChange={(e) =>
                          change({ channels: toggleChannel(prefs.channels, k.kind, c.channel, e.target.checked) })
                        }
                      />
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
          <ErrorNote error={error} />
          <div className="row-actions">
            <button type="submit" className="primary" disabled={busy}>
              Save notification settings
            </button>
            {saved && <span role="status">Saved.</span>}
          </div>
        </form>
      )}
    </section>
  );
}
