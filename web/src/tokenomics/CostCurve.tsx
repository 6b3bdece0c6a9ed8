// $/Mtok against utilization (log scale): the blended curve and one per model class, each cloud
// API's price as a horizontal line with its break-even point marked, the scenario's utilization
// and the practical ceiling as vertical lines. The legend is plain text, so it reads without the
// picture; the same figures are in the tables below.
import { CartesianGrid, Line, LineChart, ReferenceDot, ReferenceLine, Tooltip, XAxis, YAxis } from "recharts";
import type { CurveReport } from "../api/types";
import { chartData, pct, perMtok } from "../lib/tokenomics";

const CURVE_COLOURS = ["#1c2430", "#1f5fbf", "#0e7c86", "#4338ca", "#5b6675", "#0369a1"];
const API_COLOURS = ["#c9463d", "#c26a00", "#a21caf", "#8b5e34", "#be185d", "#65a30d"];
const X_TICKS = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1];

const curveColour = (i: number) => CURVE_COLOURS[i % CURVE_COLOURS.length]!;
const apiColour = (i: number) => API_COLOURS[i % API_COLOURS.length]!;

export function CostCurve({ curve, utilization }: { curve: CurveReport; utilization: number }) {
  const { rows, series, domain, ticks } = chartData(curve);
  return (
    <figure className="tk-curve" aria-labelledby="tk-curve-title">
      <h2 id="tk-curve-title">Cost per million tokens against utilization</h2>
      <div className="tk-chart">
        <LineChart
          responsive
          style={{ width: "100%", height: "100%" }}
          data={rows}
          margin={{ top: 10, right: 20, bottom: 24, left: 12 }}
          title="Cost per million tokens against utilization"
          desc="Log scale. On-premises cost falls as utilization rises; each API's price is a flat line, and the break-even point is where the two meet."
        >
          <CartesianGrid stroke="#e3e7ed" />
          <XAxis
            dataKey="u"
            type="number"
            domain={[0, 1]}
            ticks={X_TICKS}
            tickFormatter={(u: number) => pct(u, 0)}
            label={{ value: "utilization", position: "insideBottom", offset: -14, fill: "#3d4756" }}
            stroke="#5b6675"
          />
          <YAxis
            scale="log"
            domain={domain}
            ticks={ticks}
            allowDataOverflow
            interval={0}
            tickFormatter={(v: number) => `$${v}`}
            width={64}
            stroke="#5b6675"
          />
          <Tooltip
            formatter={(v, name) => [perMtok(Number(v)), name]}
            labelFormatter={(u) => `${pct(Number(u))} utilization`}
          />
          {curve.apis.map((a, i) => (
            <ReferenceLine key={a.api} y={a.api_price_per_mtok} stroke={apiColour(i)} strokeDasharray="5 4" />
          ))}
          <ReferenceLine
            x={curve.practical_ceiling}
            stroke="#8a94a3"
            strokeDasharray="2 3"
            label={{ value: "ceiling", position: "insideTopLeft", fill: "#3d4756", fontSize: 12 }}
          />
          <ReferenceLine
            x={utilization}
            stroke="#3d4756"
            label={{ value: `now ${pct(utilization, 0)}`, position: "insideTopRight", fill: "#1c2430", fontSize: 12 }}
          />
          {series.map((s, i) => (
            <Line
              key={s.key}
              dataKey={s.key}
              name={i === 0 ? "on-prem, blended" : `on-prem, ${s.name}`}
              type="monotone"
              stroke={curveColour(i)}
              strokeWidth={i === 0 ? 3 : 1.5}
              strokeDasharray={i === 0 ? undefined : "6 3"}
              dot={false}
              isAnimationActive={false}
            />
          ))}
          {curve.apis.map((a, i) =>
            a.breakeven_utilization === null ? null : (
              <ReferenceDot
                key={a.api}
                x={a.breakeven_utilization}
                y={a.api_price_per_mtok}
                r={5}
                fill={apiColour(i)}
                stroke="#fff"
                strokeWidth={1.5}
              />
            ),
          )}
        </LineChart>
      </div>
      <figcaption>
        <ul className="tk-legend">
          {series.map((s, i) => (
            <li key={s.key}>
              <svg width="28" height="10" aria-hidden="true">
                <line
                  x1="0"
                  y1="5"
                  x2="28"
                  y2="5"
                  stroke={curveColour(i)}
                  strokeWidth={i === 0 ? 3 : 2}
                  strokeDasharray={i === 0 ? undefined : "6 3"}
                />
              </svg>
              On-prem, {i === 0 ? "blended" : `class ${s.name}`}
            </li>
          ))}
          {curve.apis.map((a, i) => (
            <li key={a.api}>
              <svg width="28" height="10" aria-hidden="true">
                <line x1="0" y1="5" x2="28" y2="5" stroke={apiColour(i)} strokeWidth={2} strokeDasharray="5 4" />
                <circle cx="14" cy="5" r="4" fill={apiColour(i)} />
              </svg>
              {a.api} {perMtok(a.api_price_per_mtok)}
              {a.model_class ? ` (vs class ${a.model_class})` : ""}:{" "}
              {a.breakeven_utilization === null ? "never breaks even" : `break-even at ${pct(a.breakeven_utilization)}`}
            </li>
          ))}
        </ul>
      </figcaption>
    </figure>
  );
}
