"""The paper stage: summary.json + figures -> rendered LaTeX -> PDF and Overleaf archive."""
