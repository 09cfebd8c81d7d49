"""The annual work plan (priorities, milestones) and the reports that review it."""
