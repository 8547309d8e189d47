"""Reports of the results: trends across compositions (:mod:`.trends`), the files of a model evaluation
(:mod:`.evaluation`) and the plots (:mod:`.plots`: figures returned, saved by ``save_figure``)."""
