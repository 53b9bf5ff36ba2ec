(* A tiny library for the tests of the Coq env: top-level lemmas, one with binders, one broken proof. *)
Require Import Arith List Lia.

Lemma plus_zero : forall n : nat, n + 0 = n.
Proof. intros n. lia. Qed.

Theorem app_nil (A : Type) (l : list A) : l ++ nil = l.
Proof. induction l; simpl; congruence. Qed.

Example negb_twice : forall b : bool, negb (negb b) = b.
Proof.
  destruct b.
  - reflexivity.
  - { reflexivity. }
Qed.

Lemma broken : 1 = 2.
Proof. reflexivity. Qed.

Definition not_a_lemma := 3.
