// The booking rules the server enforces (grid, shortest and longest booking, horizon).
import { api } from "../api/client";
import type { Policy } from "../api/types";
import { useLoad, type Loaded } from "./useLoad";

export function usePolicy(): Loaded<Policy> {
  return useLoad(() => api.policy(), []);
}
