"""Review lists: which list a charity is on, the ranked lists with their scores, the exact
contributions behind each score and the reasons that put them in words. Nothing here trains."""
