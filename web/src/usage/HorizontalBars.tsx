// One horizontal bar per labelled row (a figure's chart; the figure gives the text beside it).
import { Bar, BarChart, CartesianGrid, Tooltip, XAxis, YAxis } from "recharts";

interface Props {
  rows: { label: string; value: number }[];
  title: string;
  desc: string;
  colour: string;
  labelWidth: number;
  /** How a value reads in the tooltip and on the axis. */
  format: (v: number) => string;
  tick?: (v: number) => string;
}

export function HorizontalBars({ rows, title, desc, colour, labelWidth, format, tick }: Props) {
  return (
    <div className="usage-chart" style={{ height: `${60 + Math.max(rows.length, 1) * 34}px` }}>
      <BarChart
        responsive
        layout="vertical"
        style={{ width: "100%", height: "100%" }}
        data={rows}
        margin={{ top: 4, right: 20, bottom: 4, left: 4 }}
        title={title}
        desc={desc}
      >
        <CartesianGrid stroke="#e3e7ed" horizontal={false} />
        <XAxis type="number" stroke="#5b6675" tickFormatter={tick} />
        <YAxis type="category" dataKey="label" width={labelWidth} stroke="#5b6675" tick={{ fontSize: 12 }} />
        <Tooltip formatter={(v) => [format(Number(v)), title]} />
        <Bar dataKey="value" name={title} fill={colour} isAnimationActive={false} />
      </BarChart>
    </div>
  );
}
