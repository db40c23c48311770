/**
 * Entry point of the Pulumi program `openstack-autoscaler`. Pulumi calls the exported async function and turns its
 * result into the stack outputs (see the README, "The Pulumi program"). All the work is in infra/program.ts.
 */
import { runProgram } from "./infra/program";

export = async (): Promise<Record<string, unknown>> => runProgram({ env: process.env, baseDir: __dirname });
